/**
 * What PBSProProvider and TorqueProvider share: qsub with the full job id kept, one `qstat -f` for all live blocks
 * (with `-t` when some are job arrays, whose status aggregates their subjobs'), qdel, and exit statuses.
 * @module
 */
import * as path from "node:path";
import { describe } from "../../lib/app.js";
import { ConfigError } from "../../lib/errors.js";
import { CLUSTER_KEYS, ClusterProvider, type ClusterJob, type ClusterOptions } from "../cluster.js";
import type { JobState, JobStatus } from "../provider.js";
import type { PbsScript } from "./template.js";
import { arrayOf, ended, exitStatusOf, exitWhy, idKey, parseQstatFull, stateOf, type QstatRecord } from "./qstat.js";

/** Options both PBS providers take (Parsl's, camelCase). */
export interface PbsOptions extends ClusterOptions {
  /** Account the blocks are charged to (`#PBS -A`). */
  account?: string;
  /** Queue (`#PBS -q`). */
  queue?: string;
  /**
   * Submit each block as a job array of `nodesPerBlock` single-node subjobs instead of one `nodesPerBlock`-node job
   * (a block of one node stays a plain job). @default false
   */
  jobArray?: boolean;
}

export const PBS_KEYS = [...CLUSTER_KEYS, "account", "queue", "jobArray"] as const;

// How long a job may be missing from qstat with no exit code file before it is called lost: qstat can miss a job
// for a moment (history not written yet, a server failover).
const GONE_GRACE_MS = 30_000;

/** Base of {@link PBSProProvider} and {@link TorqueProvider}. */
export abstract class PbsProvider extends ClusterProvider {
  readonly account: string | undefined;
  readonly queue: string | undefined;
  readonly jobArray: boolean;
  /** qstat's flags for a full listing that still shows ended jobs where the scheduler can. */
  protected abstract readonly qstatFlags: readonly string[];

  protected constructor(name: string, options: PbsOptions, known: readonly string[]) {
    super(name, { ...options, walltime: options.walltime ?? "00:20:00" }, known);
    for (const k of ["account", "queue"] as const) {
      const v = options[k];
      if (v !== undefined && !(typeof v === "string" && /^\S+$/.test(v))) {
        throw new ConfigError(`${name} options.${k}: expected a non-empty string without spaces, got ${describe(v)}`);
      }
    }
    if (options.jobArray !== undefined && typeof options.jobArray !== "boolean") {
      throw new ConfigError(`${name} options.jobArray: expected true or false, got ${describe(options.jobArray)}`);
    }
    this.account = options.account;
    this.queue = options.queue;
    this.jobArray = options.jobArray ?? false;
  }

  /** Subjobs in an array block, or undefined when blocks are plain jobs. */
  protected get arraySize(): number | undefined {
    return this.jobArray && this.nodesPerBlock > 1 ? this.nodesPerBlock : undefined;
  }

  /** The script a block runs (also written to `submit_scripts/<jobName>.sh`). */
  abstract script(command: string, tasksPerNode: number, jobName: string): string;

  /** What both templates take, and the nodes of one job (1 for each subjob of an array). @internal */
  protected scriptParts(command: string, tasksPerNode: number, jobName: string): PbsScript & { nodes: number } {
    const arraySize = this.arraySize;
    const nodes = arraySize === undefined ? this.nodesPerBlock : 1;
    return {
      jobName,
      scriptDir: this.jobDir,
      walltime: this.walltime,
      account: this.account,
      queue: this.queue,
      arraySize,
      nodes,
      schedulerOptions: this.schedulerOptions,
      workerInit: this.workerInit,
      launched: this.launcher.wrap(command, tasksPerNode, nodes),
    };
  }

  submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    const base = path.posix.join(this.jobDir, jobName);
    return this.submitScript(
      jobName,
      this.script(command, tasksPerNode, jobName),
      (f) => ["qsub", "-o", `${base}.pbs.out`, "-e", `${base}.pbs.err`, f],
      // The id exactly as printed (`123.server`, `123[].server`; slurm-wlm-torque: `123`): qstat and qdel want it.
      { parseId: (out) => /^\d+(\[\d*\])?(\.\S+)?$/.exec(out.trim().split("\n").pop()!.trim())?.[0] },
    );
  }

  status(jobIds: readonly string[]): Promise<JobStatus[]> {
    // The records are judged per job below (an array has several), so the poll hands statusOf no codes.
    let seen = new Map<string, QstatRecord[]>();
    return this.statusOf(
      jobIds,
      async (live) => {
        seen = await this.#poll(live);
        return new Map();
      },
      (id, job) => this.#judge(id, job, seen.get(idKey(id))),
    );
  }

  // One qstat for every live block: its record, and for an array its subjobs' records, by id key.
  async #poll(live: string[]): Promise<Map<string, QstatRecord[]>> {
    const argv = ["qstat", ...this.qstatFlags, ...(live.some((id) => id.includes("[]")) ? ["-t"] : []), ...live];
    const r = await this.exec(argv);
    // A job qstat no longer knows is reported on stderr (and in the exit code) with the others still listed.
    const odd = r.stderr.split("\n").filter((l) => l.trim() && !/Unknown Job Id|Job has finished/i.test(l));
    if (r.code !== 0 && odd.length > 0) {
      throw this.commandFailed(argv, r, odd.join("\n"));
    }
    const out = new Map<string, QstatRecord[]>();
    for (const [id, rec] of parseQstatFull(r.stdout)) {
      const key = idKey(id);
      const owner = arrayOf(key) ?? key;
      // An array's own record comes first, its subjobs after it.
      if (owner === key) out.set(key, [rec, ...(out.get(key) ?? [])]);
      else out.set(owner, [...(out.get(owner) ?? [{}]), rec]);
    }
    return out;
  }

  async #judge(id: string, job: ClusterJob, recs: QstatRecord[] | undefined): Promise<JobStatus> {
    const out = await this.outputs(job.name);
    const paths = { stdoutPath: out.stdoutPath, stderrPath: out.stderrPath };
    const n = id.includes("[]") ? (this.arraySize ?? 1) : 1;
    // Each part (the job, or each subjob) as [state letter or undefined if unlisted, exit status qstat gave].
    const parts: { letter?: string; exit?: number }[] = [];
    if (recs !== undefined) {
      const [own, ...subs] = recs;
      job.goneSince = undefined;
      if (n > 1 && subs.length > 0) {
        for (const s of subs) parts.push({ letter: s.job_state, exit: exitStatusOf(s) });
      } else {
        parts.push({ letter: own!.job_state, exit: exitStatusOf(own!) });
      }
    }
    const letters = parts.map((p) => p.letter ?? "");
    if (parts.length > 0 && !letters.every(ended)) {
      const states = letters.map((l) => (ended(l) ? "completed" : stateOf(l)));
      const state: JobState = states.includes("running")
        ? "running"
        : states.includes("pending")
          ? states.includes("completed")
            ? "running"
            : "pending"
          : "unknown";
      return { state, ...paths };
    }
    // Ended (or gone from qstat): the exit code each part's script wrote, else qstat's exit status.
    const codes: (number | undefined)[] = [];
    for (let i = 0; i < n; i++) {
      const own = await this.exitCodeOf(n > 1 ? `${job.name}.${i}` : job.name);
      codes.push(own ?? (parts.length === n ? parts[i]!.exit : undefined));
    }
    if (recs === undefined && codes.includes(undefined)) {
      job.goneSince ??= Date.now();
      if (Date.now() - job.goneSince < this.goneGraceMs) return job.last;
    }
    const bad = codes.find((c) => c !== 0);
    const st: JobStatus = { state: codes.every((c) => c === 0) ? "completed" : "failed", ...paths };
    const shown = codes.length === 1 || bad === undefined ? codes[0] : bad;
    if (shown !== undefined) st.exitCode = shown;
    if (st.state === "failed") {
      const which = n > 1 ? `subjob ${codes.indexOf(bad)}: ` : "";
      st.message = `${which}${exitWhy(bad)}; stderr: ${out.stderrTail}`;
    }
    return st;
  }

  /** How long a job may be missing from qstat without an exit code before it is called failed. */
  protected goneGraceMs = GONE_GRACE_MS;

  cancel(jobIds: readonly string[]): Promise<boolean[]> {
    return this.cancelWith(jobIds, (ids) => ["qdel", ...ids]);
  }
}
