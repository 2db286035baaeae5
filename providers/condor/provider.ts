/**
 * CondorProvider: a block is one HTCondor cluster (`condor_submit`) of
 * `Queue nodesPerBlock` procs, polled with one `condor_q` for every block
 * (and `condor_history` for procs that left the queue), cancelled with
 * `condor_rm`.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe } from "../../lib/app.js";
import { ConfigError } from "../../lib/errors.js";
import { checkOptionKeys } from "../../lib/options.js";
import { CLUSTER_KEYS, ClusterProvider, type ClusterJob, type ClusterOptions } from "../cluster.js";
import type { JobState, JobStatus } from "../provider.js";
import { condorJobScript, condorSubmitFile } from "./template.js";

/** Options of {@link CondorProvider} (Parsl's, camelCase). A slot is HTCondor's node: one proc runs in one slot. */
export interface CondorProviderOptions extends Omit<ClusterOptions, "coresPerNode" | "memPerNode"> {
  /** Cores of one slot (`request_cpus`); workers are sized by it. */
  coresPerSlot?: number;
  /** Memory of one slot in MB (`request_memory`). */
  memPerSlot?: number;
  /** Environment variables of the job (`environment`). */
  environment?: Record<string, string>;
  /** Project charged (`+ProjectName`). */
  project?: string;
  /** ClassAd expression a machine must satisfy (`requirements`), e.g. `OpSys == "LINUX" && Memory >= 4096`. */
  requirements?: string;
  /** ClassAd expression ranking matching machines (`rank`), e.g. `Memory`. */
  rank?: string;
  /** Files and directories sent with the job (`transfer_input_files`). */
  transferInputFiles?: string[];
}

const OWN_KEYS = [
  "coresPerSlot",
  "memPerSlot",
  "environment",
  "project",
  "requirements",
  "rank",
  "transferInputFiles",
] as const;
const KNOWN = [...CLUSTER_KEYS.filter((k) => k !== "coresPerNode" && k !== "memPerNode"), ...OWN_KEYS];
const BASE_KEYS = [...CLUSTER_KEYS];
// Attributes asked of condor_q and condor_history; HoldReason last, since it has spaces.
const ATTRS = ["JobStatus", "ExitCode", "HoldReason"];
// How long a proc may be missing from both condor_q and condor_history before it counts as lost.
const HISTORY_GRACE_MS = 30_000;
const WHERE = "CondorProvider";

/** One proc as condor_q or condor_history lists it. */
interface ProcRow {
  proc: number;
  /** HTCondor JobStatus: 1 Idle, 2 Running, 3 Removed, 4 Completed, 5 Held, 6 Transferring Output, 7 Suspended. */
  status: string;
  exitCode?: number;
  holdReason?: string;
}

/** What one proc says about its block. */
interface ProcState {
  proc: number;
  state: JobState | "lost?";
  exitCode?: number;
  why?: string;
}

const single = (v: unknown): v is string => typeof v === "string" && v.trim() !== "" && !/[\r\n]/.test(v);

// Checks the slot options and hands them to the base class as its node options.
function slotOptions(o: CondorProviderOptions): ClusterOptions {
  checkOptionKeys(WHERE, o, KNOWN);
  const c = o.coresPerSlot;
  if (c !== undefined && !(Number.isInteger(c) && c >= 1)) {
    throw new ConfigError(`${WHERE} options.coresPerSlot: expected an integer >= 1, got ${describe(c)}`);
  }
  const m = o.memPerSlot;
  if (m !== undefined && !(typeof m === "number" && m > 0 && Number.isFinite(m))) {
    throw new ConfigError(`${WHERE} options.memPerSlot: expected a number of MB > 0, got ${describe(m)}`);
  }
  const rest: ClusterOptions & Partial<CondorProviderOptions> = { ...o, cmdTimeout: o.cmdTimeout ?? 60 };
  for (const k of OWN_KEYS) delete rest[k];
  return { ...rest, coresPerNode: c, memPerNode: m };
}

/**
 * Blocks as HTCondor clusters: `nodesPerBlock` procs, each starting the worker pool through the launcher.
 * @example
 * ```ts
 * new HighThroughputExecutor({
 *   provider: new CondorProvider({
 *     nodesPerBlock: 2, coresPerSlot: 8, memPerSlot: 16000, requirements: 'OpSys == "LINUX"',
 *     transferInputFiles: ["env.tar.gz"], workerInit: "tar xzf env.tar.gz && source env/bin/activate",
 *   }),
 * });
 * ```
 */
export class CondorProvider extends ClusterProvider {
  readonly label = "condor";
  readonly environment: Readonly<Record<string, string>>;
  readonly project: string | undefined;
  readonly requirements: string | undefined;
  readonly rank: string | undefined;
  readonly transferInputFiles: readonly string[];

  constructor(options: CondorProviderOptions = {}) {
    super(WHERE, slotOptions(options), BASE_KEYS);
    for (const k of ["project", "requirements", "rank"] as const) {
      if (options[k] !== undefined && !single(options[k])) {
        throw new ConfigError(
          `${WHERE} options.${k}: expected a non-empty one-line string, got ${describe(options[k])}`,
        );
      }
    }
    const env = options.environment ?? {};
    if (typeof env !== "object" || env === null || Array.isArray(env)) {
      throw new ConfigError(`${WHERE} options.environment: expected an object of variables, got ${describe(env)}`);
    }
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Za-z_]\w*$/.test(k) || typeof v !== "string" || /[\r\n]/.test(v)) {
        throw new ConfigError(
          `${WHERE} options.environment: expected NAME: "one-line value" pairs, got ${describe({ [k]: v })}`,
        );
      }
    }
    const files = options.transferInputFiles ?? [];
    if (!Array.isArray(files) || !files.every((f) => single(f) && !f.includes(","))) {
      throw new ConfigError(
        `${WHERE} options.transferInputFiles: expected an array of paths (no commas), got ${describe(files)}`,
      );
    }
    this.environment = { ...env };
    this.project = options.project;
    this.requirements = options.requirements;
    this.rank = options.rank;
    this.transferInputFiles = [...files];
  }

  /** The submit description of a block (written as `<jobName>.submit` at submit). */
  submitFile(jobName: string): string {
    return condorSubmitFile({
      jobName,
      scriptDir: this.jobDir,
      procs: this.nodesPerBlock,
      walltime: this.walltime,
      coresPerSlot: this.coresPerNode,
      memPerSlot: this.memPerNode,
      environment: this.environment,
      project: this.project,
      requirements: this.requirements,
      rank: this.rank,
      transferInputFiles: this.transferInputFiles,
      schedulerOptions: this.schedulerOptions,
    });
  }

  /** The script each proc of a block runs (written as `<jobName>.sh`); one proc is one node of the block. */
  script(command: string, tasksPerNode: number, jobName: string): string {
    return condorJobScript({
      jobName,
      scriptDir: this.jobDir,
      coresPerSlot: this.coresPerNode,
      memPerSlot: this.memPerNode,
      workerInit: this.workerInit,
      launched: this.launcher.wrap(command, tasksPerNode, 1),
    });
  }

  async submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    const local = path.join(this.scriptDir, `${jobName}.submit`);
    fs.writeFileSync(local, this.submitFile(jobName));
    const submit = this.channel.stage ? await this.channel.stage(local) : local;
    return this.submitScript(jobName, this.script(command, tasksPerNode, jobName), () => ["condor_submit", submit], {
      parseId: (out) => /(\d+) job\(s\) submitted to cluster (\d+)\./.exec(out)?.[2],
    });
  }

  status(jobIds: readonly string[]): Promise<JobStatus[]> {
    return this.statusOf(
      jobIds,
      (live) => this.#poll(live),
      (id, job, rows) => this.#toStatus(id, job, rows),
    );
  }

  // One condor_q for every live cluster, then one condor_history for the clusters some proc of which has left
  // the queue. Each cluster's rows go to the judge as JSON.
  async #poll(clusters: string[]): Promise<Map<string, string>> {
    const rows = new Map<string, ProcRow[]>(clusters.map((c) => [c, []]));
    const add = (stdout: string, only?: (c: string, p: number) => boolean): void => {
      for (const line of stdout.split("\n")) {
        const m = /^\s*(\d+)\.(\d+)\s+(\d+)\s+(\S+)\s*(.*?)\s*$/.exec(line);
        if (m === null || !rows.has(m[1]!) || (only && !only(m[1]!, Number(m[2])))) continue;
        const row: ProcRow = { proc: Number(m[2]), status: m[3]! };
        if (/^-?\d+$/.test(m[4]!)) row.exitCode = Number(m[4]);
        if (m[5] && m[5] !== "undefined") row.holdReason = m[5];
        rows.get(m[1]!)!.push(row);
      }
    };
    add((await this.execOk(["condor_q", ...clusters, "-af:j", ...ATTRS])).stdout);
    const missing = (c: string): number[] => {
      const seen = new Set(rows.get(c)!.map((r) => r.proc));
      return [...Array(this.nodesPerBlock).keys()].filter((p) => !seen.has(p));
    };
    const gone = clusters.filter((c) => missing(c).length > 0);
    if (gone.length > 0) {
      const count = gone.reduce((n, c) => n + missing(c).length, 0);
      const want = new Map(gone.map((c) => [c, new Set(missing(c))]));
      const h = await this.execOk(["condor_history", ...gone, "-limit", String(count), "-af:j", ...ATTRS]);
      add(h.stdout, (c, p) => want.get(c)?.has(p) ?? false);
    }
    return new Map([...rows].map(([c, r]) => [c, JSON.stringify(r)]));
  }

  async #procState(job: ClusterJob, proc: number, row: ProcRow | undefined): Promise<ProcState> {
    const s: ProcState = { proc, state: "lost?" };
    if (row === undefined || row.status === "4") {
      // Completed, or in no record yet: the exit code the script wrote, if HTCondor has none.
      const code = row?.exitCode ?? (await this.exitCodeOf(`${job.name}.${proc}`));
      if (code !== undefined) s.exitCode = code;
      if (row === undefined && code === undefined) return s;
      s.state = code === 0 ? "completed" : "failed";
      if (s.state === "failed") s.why = code === undefined ? "ended without an exit code" : `exit code ${code}`;
      return s;
    }
    const held = row.status === "5";
    s.state = held
      ? "failed"
      : row.status === "3"
        ? "cancelled"
        : row.status === "2" || row.status === "6"
          ? "running"
          : row.status === "1" || row.status === "7"
            ? "pending"
            : "unknown";
    if (held) s.why = `held: ${row.holdReason ?? "(no HoldReason)"}`;
    else if (s.state === "cancelled") s.why = "removed from the queue (condor_rm or a policy)";
    return s;
  }

  // The block's state from its procs': any failed or held → failed; any removed → cancelled; any running →
  // running; all completed → completed; else pending.
  async #toStatus(id: string, job: ClusterJob, encoded: string | undefined): Promise<JobStatus> {
    const rows = JSON.parse(encoded ?? "[]") as ProcRow[];
    const procs: ProcState[] = [];
    for (let p = 0; p < this.nodesPerBlock; p++) {
      procs.push(
        await this.#procState(
          job,
          p,
          rows.find((r) => r.proc === p),
        ),
      );
    }
    const first = (st: ProcState["state"]): ProcState | undefined => procs.find((s) => s.state === st);
    const lost = first("lost?");
    if (lost !== undefined && first("failed") === undefined) {
      job.goneSince ??= Date.now();
      if (Date.now() - job.goneSince < HISTORY_GRACE_MS) return job.last;
      lost.state = "failed";
      lost.why = "left the queue with no record in condor_history and no exit code file";
    }
    const decisive = first("failed") ?? first("cancelled");
    const out = await this.outputs(`${job.name}.${decisive?.proc ?? 0}`);
    const st: JobStatus = { state: "pending", stdoutPath: out.stdoutPath, stderrPath: out.stderrPath };
    if (decisive !== undefined) {
      st.state = decisive.state as JobState;
      if (decisive.exitCode !== undefined) st.exitCode = decisive.exitCode;
      st.message = `proc ${id}.${decisive.proc} ${decisive.why ?? ""}; stderr: ${out.stderrTail}`;
    } else if (first("running")) st.state = "running";
    else if (procs.every((s) => s.state === "completed")) {
      st.state = "completed";
      st.exitCode = 0;
    } else if (first("unknown")) st.state = "unknown";
    return st;
  }

  cancel(jobIds: readonly string[]): Promise<boolean[]> {
    return this.cancelWith(jobIds, (ids) => ["condor_rm", ...ids]);
  }
}
