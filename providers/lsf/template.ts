/**
 * The bsub script of one LSFProvider block, and LSF's `-W` run limit.
 * @module
 */
import { scriptTail, walltimeSeconds } from "../job-script.js";

/** What the template needs. */
export interface LSFScript {
  jobName: string;
  scriptDir: string;
  /** LSF run limit, `[H:]MM` (see {@link lsfRunLimit}). */
  runLimit: string;
  project?: string;
  queue?: string;
  /** `-nnodes N` (IBM CORAL systems such as Summit), or `-n cores` spread `ptile` cores to a node. */
  request: { nodes: number } | { cores: number; ptile: number };
  coresPerNode?: number;
  schedulerOptions: string;
  workerInit: string;
  launched: string;
}

/**
 * LSF's `-W` takes `[hour:]minute`, so `HH:MM:SS` (or `MM:SS`, `D-HH:MM:SS`) becomes whole minutes, rounding
 * seconds up so a job never gets less time than asked: `"01:30:20"` → `"1:31"`.
 * @example
 * ```ts
 * lsfRunLimit("00:10:00"); // "0:10"
 * ```
 */
export function lsfRunLimit(walltime: string): string {
  const minutes = Math.max(1, Math.ceil(walltimeSeconds(walltime) / 60));
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
}

/** Renders the script; LSF reads the `#BSUB` lines when it gets the script on stdin (`bsub < script`). */
export function lsfScript(s: LSFScript): string {
  const base = `${s.scriptDir}/${s.jobName}`;
  const d = (line: string | false | undefined): string => (line ? `#BSUB ${line}\n` : "");
  const size =
    "nodes" in s.request
      ? d(`-nnodes ${s.request.nodes}`)
      : d(`-n ${s.request.cores}`) + d(`-R "span[ptile=${s.request.ptile}]"`);
  return `#!/bin/bash
${d(`-J ${s.jobName}`)}${d(`-o ${base}.out`)}${d(`-e ${base}.err`)}${d(`-W ${s.runLimit}`)}${d(
    s.project && `-P ${s.project}`,
  )}${d(s.queue && `-q ${s.queue}`)}${size}${s.schedulerOptions ? s.schedulerOptions.trimEnd() + "\n" : ""}
${scriptTail({ ...s, cores: s.coresPerNode })}`;
}
