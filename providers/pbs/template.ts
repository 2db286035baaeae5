/**
 * The qsub scripts of PBSProProvider and TorqueProvider blocks.
 * @module
 */
import { scriptTail } from "../job-script.js";

/** What both templates need. */
export interface PbsScript {
  jobName: string;
  scriptDir: string;
  walltime: string;
  account?: string;
  queue?: string;
  /** Subjob indices `0-(n-1)` when the block is a job array of n subjobs. */
  arraySize?: number;
  schedulerOptions: string;
  workerInit: string;
  /** The launched worker-pool command. */
  launched: string;
}

/** PBS Pro: `-l select=<chunks>:ncpus=<cpus>[:selectOptions]`, arrays with `-J`. */
export interface PbsProScript extends PbsScript {
  chunks: number;
  cpusPerNode: number;
  selectOptions: string;
}

/** Torque: `-l nodes=<nodes>:ppn=<ppn>`, arrays with `-t`. */
export interface TorqueScript extends PbsScript {
  nodes: number;
  ppn: number;
}

/** Renders a PBS Pro / OpenPBS script. */
export function pbsProScript(s: PbsProScript): string {
  const select = s.selectOptions === "" || s.selectOptions.startsWith(":") ? s.selectOptions : `:${s.selectOptions}`;
  return render(s, `select=${s.chunks}:ncpus=${s.cpusPerNode}${select}`, "-J");
}

/** Renders a Torque script. */
export function torqueScript(s: TorqueScript): string {
  return render(s, `nodes=${s.nodes}:ppn=${s.ppn}`, "-t");
}

// Directives first (qsub reads none after the first command). The script writes its own .out/.err/.ec: the scheduler's
// -o/-e (given on qsub's command line, as slurm-wlm-torque ignores `#PBS -o`) are only copied back when the job ends
// and would overwrite a file shared by subjobs. Each subjob of an array writes `<name>.<index>.ec`.
function render(s: PbsScript, resources: string, arrayFlag: string): string {
  const base = `${s.scriptDir}/${s.jobName}`;
  const d = (line: string | false | undefined): string => (line ? `#PBS ${line}\n` : "");
  const array = s.arraySize !== undefined;
  return `#!/bin/bash
${d("-S /bin/bash")}${d(`-N ${s.jobName}`)}${d("-m n")}${d(`-l walltime=${s.walltime}`)}${d(`-l ${resources}`)}${d(
    array && `${arrayFlag} 0-${s.arraySize! - 1}`,
  )}${d(s.account && `-A ${s.account}`)}${d(s.queue && `-q ${s.queue}`)}${s.schedulerOptions ? s.schedulerOptions.trimEnd() + "\n" : ""}
exec >>"${base}.out" 2>>"${base}.err"
${array ? "TASKLOOM_INDEX=.${PBS_ARRAY_INDEX:-${PBS_ARRAYID:-0}}\n" : ""}${scriptTail({
    ...s,
    setup: 'cd "${PBS_O_WORKDIR:-.}"',
    ecFile: `${base}${array ? "${TASKLOOM_INDEX}" : ""}.ec`,
  })}`;
}
