/**
 * The submit description and job script of one CondorProvider block: one
 * HTCondor cluster of `Queue N` procs, each proc running the job script with
 * its process number as argument.
 * @module
 */
import { scriptTail, walltimeSeconds } from "../job-script.js";

/** What the templates need. */
export interface CondorSubmit {
  jobName: string;
  /** Where the scheduler sees the scripts and outputs. */
  scriptDir: string;
  /** Procs in the cluster (the block's nodes). */
  procs: number;
  walltime: string;
  coresPerSlot?: number;
  /** MB. */
  memPerSlot?: number;
  environment: Readonly<Record<string, string>>;
  project?: string;
  requirements?: string;
  rank?: string;
  transferInputFiles: readonly string[];
  schedulerOptions: string;
}

/** What the job script needs besides. */
export interface CondorJobScript {
  jobName: string;
  scriptDir: string;
  coresPerSlot?: number;
  memPerSlot?: number;
  workerInit: string;
  /** The launched worker-pool command. */
  launched: string;
}

// condor_submit's "new" environment syntax: the whole list in double quotes, each value in single quotes, and a
// literal quote of either kind doubled.
function environmentLine(env: Readonly<Record<string, string>>): string {
  const v = (s: string): string => `'${s.replace(/'/g, "''").replace(/"/g, '""')}'`;
  return `"${Object.entries(env)
    .map(([k, s]) => `${k}=${v(s)}`)
    .join(" ")}"`;
}

/** Renders the submit description. HTCondor has no walltime of its own: a proc running longer is held. */
export function condorSubmitFile(s: CondorSubmit): string {
  const base = `${s.scriptDir}/${s.jobName}`;
  const line = (k: string, v: string | number | false | undefined): string =>
    v === undefined || v === false || v === "" ? "" : `${k.padEnd(23)} = ${v}\n`;
  const env = Object.keys(s.environment).length > 0 ? environmentLine(s.environment) : undefined;
  return `# taskloom block ${s.jobName}: one cluster of ${s.procs} proc(s)
${line("universe", "vanilla")}${line("executable", `${base}.sh`)}${line("arguments", "$(Process)")}${line(
    "initialdir",
    s.scriptDir,
  )}${line("output", `${base}.$(Process).out`)}${line("error", `${base}.$(Process).err`)}${line(
    "log",
    `${base}.log`,
  )}${line("should_transfer_files", "YES")}${line("when_to_transfer_output", "ON_EXIT_OR_EVICT")}${line(
    "transfer_input_files",
    s.transferInputFiles.join(","),
  )}${line("request_cpus", s.coresPerSlot)}${line("request_memory", s.memPerSlot)}${line(
    "requirements",
    s.requirements,
  )}${line("rank", s.rank)}${line("+ProjectName", s.project && JSON.stringify(s.project))}${line("environment", env)}${line(
    "periodic_hold",
    `(JobStatus == 2) && (time() - EnteredCurrentStatus > ${walltimeSeconds(s.walltime)})`,
  )}${line("periodic_hold_reason", `"walltime ${s.walltime} exceeded"`)}${
    s.schedulerOptions ? s.schedulerOptions.trimEnd() + "\n" : ""
  }queue ${s.procs}
`;
}

/**
 * Renders the job script. The exit code file is written in the job's working directory: with file transfer
 * HTCondor brings it back to `initialdir` (the script dir) with the job's other new files.
 */
export function condorJobScript(s: CondorJobScript): string {
  return `#!/bin/bash
${scriptTail({
  ...s,
  cores: s.coresPerSlot,
  memoryMB: s.memPerSlot,
  setup: "export TASKLOOM_PROC=${1:-0}",
  ecFile: `${s.jobName}.$TASKLOOM_PROC.ec`,
})}`;
}
