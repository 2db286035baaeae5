/**
 * The qsub script of one GridEngineProvider block.
 * @module
 */
import { scriptTail } from "../job-script.js";

/** What the template needs. */
export interface GridEngineScript {
  jobName: string;
  scriptDir: string;
  walltime: string;
  queue?: string;
  /** Parallel environment and slots, e.g. `smp 4`. */
  pe?: string;
  schedulerOptions: string;
  workerInit: string;
  launched: string;
}

/** Renders the script; the command runs in a subshell so its exit code always reaches the `.ec` file. */
export function gridEngineScript(s: GridEngineScript): string {
  const base = `${s.scriptDir}/${s.jobName}`;
  const d = (line: string | false | undefined): string => (line ? `#$ ${line}\n` : "");
  return `#!/bin/bash
${d("-S /bin/bash")}${d(`-N ${s.jobName}`)}${d(`-o ${base}.out`)}${d(`-e ${base}.err`)}${d("-cwd")}${d(
    `-l h_rt=${s.walltime}`,
  )}${d(s.queue && `-q ${s.queue}`)}${d(s.pe && `-pe ${s.pe}`)}${s.schedulerOptions ? s.schedulerOptions.trimEnd() + "\n" : ""}
${scriptTail(s)}`;
}
