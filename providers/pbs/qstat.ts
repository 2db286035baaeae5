/**
 * What PBS Pro/OpenPBS and Torque share about `qstat -f`: its text format, job ids, state letters and exit statuses.
 * The text format (not PBS Pro's `-F json`) is read on purpose: Torque has no JSON, and OpenPBS's JSON has printed
 * only the first of several jobs asked for (openpbs#2672) and invalid JSON for some environments (openpbs#2541).
 * @module
 */
import type { JobState } from "../provider.js";

/** One job's attributes as `qstat -f` prints them (`job_state`, `Exit_status`, …), by name. */
export type QstatRecord = Record<string, string>;

/**
 * Parses `qstat -f` output: `Job Id: <id>` headers, then `name = value` lines; a value too long for one line goes on
 * in lines starting with a tab (PBS Pro) — those are joined back. Keys are the ids as printed.
 */
export function parseQstatFull(text: string): Map<string, QstatRecord> {
  const jobs = new Map<string, QstatRecord>();
  let rec: QstatRecord | undefined;
  let last: string | undefined;
  for (const line of text.split("\n")) {
    const head = /^Job Id:\s*(\S+)/.exec(line);
    if (head) {
      rec = {};
      jobs.set(head[1]!, rec);
      last = undefined;
      continue;
    }
    if (rec === undefined) continue;
    const attr = /^\s+([\w.]+) = (.*)$/.exec(line);
    if (attr) {
      last = attr[1]!;
      rec[last] = attr[2]!;
    } else if (last !== undefined && line.startsWith("\t")) {
      rec[last] += line.slice(1);
    }
  }
  return jobs;
}

/**
 * The part of a job id every PBS command agrees on: `123.server.domain` → `123`, `123[].server` → `123[]`.
 * qstat may print a shorter or longer server suffix than qsub did, and slurm-wlm-torque prints none.
 */
export function idKey(id: string): string {
  return id.split(".")[0]!;
}

/** `123[4]` → `123[]` (a subjob's array); undefined for other ids. */
export function arrayOf(key: string): string | undefined {
  const m = /^(\d+)\[\d+\]$/.exec(key);
  return m ? `${m[1]}[]` : undefined;
}

// Both schedulers' state letters: PBS Pro (B begun array, X expired subjob, F finished, M moved, U suspended on a busy
// workstation) and Torque (C completed).
const PENDING = new Set(["Q", "H", "W", "T", "S", "U"]);
const RUNNING = new Set(["R", "E", "B"]);
const ENDED = new Set(["F", "X", "C"]);

/** A state letter as a block state; `undefined` for ended jobs (completed or failed: the exit status decides). */
export function stateOf(letter: string): JobState | undefined {
  if (PENDING.has(letter)) return "pending";
  if (RUNNING.has(letter)) return "running";
  if (ENDED.has(letter)) return undefined;
  return "unknown";
}

/** True for the letters of an ended job. */
export function ended(letter: string): boolean {
  return ENDED.has(letter);
}

/** The exit status qstat reports (PBS Pro `Exit_status`, Torque `exit_status`), if any. */
export function exitStatusOf(rec: QstatRecord): number | undefined {
  const v = rec.Exit_status ?? rec.exit_status;
  return v === undefined || !/^-?\d+$/.test(v.trim()) ? undefined : Number(v);
}

// PBS's own (negative) exit statuses for jobs it killed over a limit (openpbs src/include/job.h, JOB_EXEC_KILL_*).
const KILLED: Record<number, string> = {
  [-24]: "the job used more CPUs than it asked for (JOB_EXEC_KILL_NCPUS_BURST)",
  [-25]: "the job used more CPU time than its CPUs allow (JOB_EXEC_KILL_NCPUS_SUM)",
  [-26]: "the job ran out of virtual memory (JOB_EXEC_KILL_VMEM)",
  [-27]: "the job ran out of memory (JOB_EXEC_KILL_MEM)",
  [-28]: "the job used up its CPU time (JOB_EXEC_KILL_CPUT)",
  [-29]: "the job reached its walltime (JOB_EXEC_KILL_WALLTIME)",
};

/** Why a job with this exit status failed, in words. */
export function exitWhy(code: number | undefined): string {
  if (code === undefined) return "the job ended without an exit code (killed, e.g. at its walltime or by qdel?)";
  if (KILLED[code]) return KILLED[code];
  if (code < 0) return `the scheduler could not run the job (exit status ${code})`;
  if (code > 256) return `the job was killed by signal ${code - 256} (exit status ${code})`;
  return `exit code ${code}`;
}
