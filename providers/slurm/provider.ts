/**
 * SlurmProvider: blocks are SLURM batch jobs (`sbatch`), polled with one
 * `squeue` for all of them, cancelled with `scancel`.
 * @module
 */
import { describe } from "../../lib/app.js";
import { ConfigError } from "../../lib/errors.js";
import { CLUSTER_KEYS, ClusterProvider, type ClusterOptions } from "../cluster.js";
import type { JobState, JobStatus } from "../provider.js";
import { slurmScript } from "./template.js";

/** Options of {@link SlurmProvider} (Parsl's, camelCase; memory in MB). */
export interface SlurmProviderOptions extends ClusterOptions {
  partition?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  clusters?: string;
  /** Ask for whole nodes. @default true */
  exclusive?: boolean;
  /** Generic resources, e.g. `"gpu:2"`. */
  gres?: string;
}

const STRING_KEYS = ["partition", "account", "qos", "constraint", "clusters", "gres"] as const;
const KNOWN = [...CLUSTER_KEYS, ...STRING_KEYS, "exclusive"];

// squeue's compact state codes onto block states.
const STATES: Record<string, JobState> = {
  PD: "pending",
  CF: "pending",
  RQ: "pending",
  RF: "pending",
  RH: "pending",
  RS: "pending",
  S: "pending",
  ST: "pending",
  R: "running",
  CG: "running",
  SO: "running",
  SI: "running",
  CD: "completed",
  CA: "cancelled",
  F: "failed",
  TO: "failed",
  NF: "failed",
  OOM: "failed",
  PR: "failed",
  BF: "failed",
  DL: "failed",
  RV: "failed",
  SE: "failed",
};
const WHY: Record<string, string> = {
  TO: "the job reached its walltime (TIMEOUT)",
  NF: "a node of the job failed (NODE_FAIL)",
  OOM: "the job ran out of memory (OUT_OF_MEMORY)",
  PR: "the job was preempted (PREEMPTED)",
  BF: "the job could not start (BOOT_FAIL)",
  DL: "the job missed its deadline (DEADLINE)",
};

/**
 * Blocks as SLURM jobs.
 * @example
 * ```ts
 * new HighThroughputExecutor({
 *   address: "10.1.0.5",
 *   provider: new SlurmProvider({ partition: "debug", nodesPerBlock: 2, walltime: "01:00:00",
 *     launcher: new SrunLauncher(), workerInit: "module load nodejs" }),
 * });
 * ```
 */
export class SlurmProvider extends ClusterProvider {
  readonly label = "slurm";
  readonly partition: string | undefined;
  readonly account: string | undefined;
  readonly qos: string | undefined;
  readonly constraint: string | undefined;
  readonly clusters: string | undefined;
  readonly gres: string | undefined;
  readonly exclusive: boolean;

  constructor(options: SlurmProviderOptions = {}) {
    super("SlurmProvider", options, KNOWN);
    for (const k of STRING_KEYS) {
      const v = options[k];
      if (v !== undefined && !(typeof v === "string" && /^\S+$/.test(v))) {
        throw new ConfigError(
          `SlurmProvider options.${k}: expected a non-empty string without spaces, got ${describe(v)}`,
        );
      }
    }
    if (options.exclusive !== undefined && typeof options.exclusive !== "boolean") {
      throw new ConfigError(
        `SlurmProvider options.exclusive: expected true or false, got ${describe(options.exclusive)}`,
      );
    }
    this.partition = options.partition;
    this.account = options.account;
    this.qos = options.qos;
    this.constraint = options.constraint;
    this.clusters = options.clusters;
    this.gres = options.gres;
    this.exclusive = options.exclusive ?? true;
  }

  /** The script a block would run (also written beside its output at submit). */
  script(command: string, tasksPerNode: number, jobName: string): string {
    return slurmScript({
      jobName,
      scriptDir: this.jobDir,
      nodes: this.nodesPerBlock,
      tasksPerNode,
      walltime: this.walltime,
      partition: this.partition,
      account: this.account,
      qos: this.qos,
      constraint: this.constraint,
      clusters: this.clusters,
      exclusive: this.exclusive,
      memPerNode: this.memPerNode,
      coresPerNode: this.coresPerNode,
      gres: this.gres,
      schedulerOptions: this.schedulerOptions,
      workerInit: this.workerInit,
      launched: this.launcher.wrap(command, tasksPerNode, this.nodesPerBlock),
    });
  }

  submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    return this.submitScript(jobName, this.script(command, tasksPerNode, jobName), (f) => ["sbatch", "--parsable", f]);
  }

  status(jobIds: readonly string[]): Promise<JobStatus[]> {
    return this.statusOf(
      jobIds,
      async (live) => {
        // One squeue for every block; `-t all` keeps finished jobs visible for MinJobAge.
        const argv = ["squeue", "--noheader", "-t", "all", "-j", live.join(","), "-o", "%i %t"];
        const r = await this.exec(argv);
        if (r.code !== 0 && !/Invalid job id/i.test(r.stderr)) throw this.commandFailed(argv, r, r.stderr);
        const seen = new Map<string, string>();
        for (const line of r.stdout.split("\n")) {
          const [id, code] = line.trim().split(/\s+/);
          if (id && code) seen.set(id.split("_")[0]!, code);
        }
        return seen;
      },
      (id, job, code) => this.#toStatus(id, job.name, code),
    );
  }

  // The job's exit code: from the script (it writes `.ec` when its command returns), else from SLURM's record.
  async #exitCode(id: string, name: string): Promise<number | undefined> {
    const own = await this.exitCodeOf(name);
    if (own !== undefined) return own;
    const r = await this.exec(["scontrol", "show", "job", "-o", id]);
    const m = /\bExitCode=(\d+):(\d+)/.exec(r.stdout);
    if (m === null) return undefined;
    return Number(m[2]) !== 0 ? 128 + Number(m[2]) : Number(m[1]);
  }

  async #toStatus(id: string, name: string, code: string | undefined): Promise<JobStatus> {
    const out = await this.outputs(name);
    const paths = { stdoutPath: out.stdoutPath, stderrPath: out.stderrPath };
    const ended = code === undefined || ["CD", "F", "TO", "NF", "OOM", "PR", "BF", "DL", "RV", "SE"].includes(code);
    const exitCode = ended ? await this.#exitCode(id, name) : undefined;
    // Gone from squeue (older than MinJobAge): done, as its exit code file says if it got that far.
    const state: JobState =
      code === undefined
        ? exitCode !== undefined && exitCode !== 0
          ? "failed"
          : "completed"
        : (STATES[code] ?? "unknown");
    const st: JobStatus = { state, ...paths };
    if (exitCode !== undefined) st.exitCode = exitCode;
    if (state === "failed") {
      const why = (code && WHY[code]) ?? (exitCode !== undefined ? `exit code ${exitCode}` : `state ${code ?? "gone"}`);
      st.message = `${why}; stderr: ${out.stderrTail}`;
    }
    return st;
  }

  cancel(jobIds: readonly string[]): Promise<boolean[]> {
    return this.cancelWith(jobIds, (ids) => ["scancel", ...ids]);
  }
}
