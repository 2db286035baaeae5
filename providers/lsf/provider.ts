/**
 * LSFProvider: blocks are IBM Spectrum LSF jobs (`bsub < script`), polled
 * with one `bjobs` for all of them, cancelled with `bkill`.
 * @module
 */
import { describe } from "../../lib/app.js";
import { ConfigError } from "../../lib/errors.js";
import { CLUSTER_KEYS, ClusterProvider, type ClusterJob, type ClusterOptions } from "../cluster.js";
import { isFinal, type JobState, type JobStatus } from "../provider.js";
import { lsfRunLimit, lsfScript } from "./template.js";

/**
 * Options of {@link LSFProvider} (Parsl's, camelCase). `walltime` is given as `HH:MM:SS` like every provider's and
 * written as LSF's `-W [H:]MM`, seconds rounded up to the next minute. `memPerNode` is not taken: how LSF counts
 * memory (per slot or per host, which units) is set per site, so put e.g. `#BSUB -R "rusage[mem=4000]"` in
 * `schedulerOptions`.
 */
export interface LSFProviderOptions extends Omit<ClusterOptions, "memPerNode"> {
  /** Project the job is charged to (`-P`); required on many sites (e.g. OLCF). */
  project?: string;
  /** Queue (`-q`). */
  queue?: string;
  /**
   * Ask for whole nodes with `-nnodes nodesPerBlock` (IBM CORAL systems such as Summit), or, when false, for
   * `coresPerBlock` cores with `-n` spread `coresPerNode` to a node (`-R "span[ptile=…]"`); the block then has
   * ceil(coresPerBlock / coresPerNode) nodes. @default true
   */
  requestByNodes?: boolean;
  /** Cores of one block, when `requestByNodes` is false. */
  coresPerBlock?: number;
  /**
   * Submit with the script on bsub's stdin (`bsub < script`), the one way every LSF reads its `#BSUB` lines.
   * Parsl's default (false) runs `bsub script`: LSF then runs the script as the job's command and ignores
   * its `#BSUB` lines (walltime, job name, output files, size) unless the site set `LSB_BSUB_PARSE_SCRIPT=Y`
   * (LSF 10.1); the script must also be executable and visible on the compute node. @default true
   */
  bsubRedirection?: boolean;
}

const KNOWN = [
  ...CLUSTER_KEYS.filter((k) => k !== "memPerNode"),
  "project",
  "queue",
  "requestByNodes",
  "coresPerBlock",
  "bsubRedirection",
];

// One row per job, `|` between fields because an exit reason has spaces; LSF prints `-` for an empty field.
const BJOBS_FORMAT = "jobid stat exit_code exit_reason delimiter='|'";
// bjobs can miss a job now and then; give it this long before a job gone without an exit code file counts as lost.
const GONE_GRACE_MS = 30_000;

const STATES: Record<string, { state: JobState; why?: string }> = {
  PEND: { state: "pending" },
  WAIT: { state: "pending" },
  PSUSP: { state: "pending", why: "held while pending (PSUSP)" },
  RUN: { state: "running" },
  // A suspended job keeps its hosts and its workers resume with it: still a running block, not a lost one.
  USUSP: { state: "running", why: "suspended by its owner or an administrator (USUSP)" },
  SSUSP: { state: "running", why: "suspended by LSF (SSUSP), e.g. for load or a preempting job" },
  DONE: { state: "completed" },
  PDONE: { state: "completed" },
  EXIT: { state: "failed" },
  ZOMBI: { state: "failed", why: "LSF could not reach the job's host while killing it (ZOMBI)" },
  // Not final: LSF lost contact with the host and may find the job again.
  UNKWN: { state: "unknown", why: "LSF lost contact with the job's host (UNKWN)" },
};

// With requestByNodes false the block's node count follows from its cores (before the base class reads it).
function withBlockSize(o: LSFProviderOptions): ClusterOptions {
  if (typeof o !== "object" || o === null) return o;
  for (const k of ["requestByNodes", "bsubRedirection"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "boolean") {
      throw new ConfigError(`LSFProvider options.${k}: expected true or false, got ${describe(o[k])}`);
    }
  }
  if ("memPerNode" in o) {
    throw new ConfigError(
      `LSFProvider options.memPerNode: not taken (LSF sites count memory differently); put e.g. '#BSUB -R "rusage[mem=4000]"' in schedulerOptions`,
    );
  }
  const wholeInt = (k: "coresPerBlock" | "coresPerNode"): number => {
    const v = o[k];
    if (!Number.isInteger(v) || (v as number) < 1) {
      throw new ConfigError(
        `LSFProvider options.${k}: expected an integer >= 1 when requestByNodes is false, got ${describe(v)}`,
      );
    }
    return v as number;
  };
  if (o.requestByNodes !== false) {
    if (o.coresPerBlock !== undefined) {
      throw new ConfigError(
        `LSFProvider options.coresPerBlock: only used with requestByNodes: false (then -n coresPerBlock), got ${describe(o.coresPerBlock)} with whole-node requests (-nnodes)`,
      );
    }
    return o;
  }
  if (o.nodesPerBlock !== undefined) {
    throw new ConfigError(
      `LSFProvider options.nodesPerBlock: not used with requestByNodes: false (nodes are ceil(coresPerBlock / coresPerNode)), got ${describe(o.nodesPerBlock)}`,
    );
  }
  return { ...o, nodesPerBlock: Math.ceil(wholeInt("coresPerBlock") / wholeInt("coresPerNode")) };
}

/**
 * Blocks as LSF jobs. The job script goes to bsub on stdin so LSF reads its `#BSUB` lines; every poll is one
 * `bjobs -a` for all live blocks; a job LSF no longer lists is judged by the exit code file its script wrote.
 * @example
 * ```ts
 * // Summit-style whole nodes, charged to a project:
 * new HighThroughputExecutor({
 *   provider: new LSFProvider({ project: "ABC123", queue: "batch", nodesPerBlock: 2, walltime: "01:00:00",
 *     launcher: new JsrunLauncher(), workerInit: "module load nodejs" }),
 * });
 * // Cores spread over nodes (bsub -n 64 -R "span[ptile=32]"):
 * new LSFProvider({ requestByNodes: false, coresPerBlock: 64, coresPerNode: 32, queue: "normal" });
 * ```
 */
export class LSFProvider extends ClusterProvider {
  readonly label = "lsf";
  readonly project: string | undefined;
  readonly queue: string | undefined;
  readonly requestByNodes: boolean;
  readonly coresPerBlock: number | undefined;
  readonly bsubRedirection: boolean;

  constructor(options: LSFProviderOptions = {}) {
    super("LSFProvider", withBlockSize(options), KNOWN);
    for (const k of ["project", "queue"] as const) {
      const v = options[k];
      if (v !== undefined && !(typeof v === "string" && /^\S+$/.test(v))) {
        throw new ConfigError(`LSFProvider options.${k}: expected a non-empty name without spaces, got ${describe(v)}`);
      }
    }
    this.project = options.project;
    this.queue = options.queue;
    this.requestByNodes = options.requestByNodes ?? true;
    this.coresPerBlock = options.coresPerBlock;
    this.bsubRedirection = options.bsubRedirection ?? true;
  }

  /** The script a block runs (also written beside its output at submit). */
  script(command: string, tasksPerNode: number, jobName: string): string {
    return lsfScript({
      jobName,
      scriptDir: this.jobDir,
      runLimit: lsfRunLimit(this.walltime),
      project: this.project,
      queue: this.queue,
      request: this.requestByNodes
        ? { nodes: this.nodesPerBlock }
        : { cores: this.coresPerBlock!, ptile: this.coresPerNode! },
      coresPerNode: this.coresPerNode,
      schedulerOptions: this.schedulerOptions,
      workerInit: this.workerInit,
      launched: this.launcher.wrap(command, tasksPerNode, this.nodesPerBlock),
    });
  }

  submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    return this.submitScript(
      jobName,
      this.script(command, tasksPerNode, jobName),
      (file) => (this.bsubRedirection ? ["bsub"] : ["bsub", file]),
      {
        stdin: this.bsubRedirection,
        // "Job <1234> is submitted to queue <normal>." (or "to default queue <normal>."), maybe after other lines.
        parseId: (out) => /^Job <(\d+)> is submitted to /m.exec(out)?.[1],
      },
    );
  }

  status(jobIds: readonly string[]): Promise<JobStatus[]> {
    return this.statusOf(
      jobIds,
      async (live) => {
        // One bjobs for every block; -a keeps jobs that ended within CLEAN_PERIOD (default an hour) listed.
        const argv = ["bjobs", "-a", "-noheader", "-o", BJOBS_FORMAT, ...live];
        const r = await this.exec(argv);
        // An id LSF no longer knows is a "Job <N> is not found" line (and exit code 255), not a failed poll.
        const trouble = r.stderr.split("\n").filter((l) => l.trim() !== "" && !/^Job <\d+> is not found/.test(l));
        if (r.code !== 0 && (trouble.length > 0 || r.stderr.trim() === "")) throw this.commandFailed(argv, r);
        const seen = new Map<string, string>();
        for (const line of r.stdout.split("\n")) {
          const m = /^\s*(\d+)\|(\w+)\|/.exec(line);
          if (m) seen.set(m[1]!, line.trim().slice(m[1]!.length + 1));
        }
        return seen;
      },
      (id, job, row) => this.#toStatus(id, job, row),
    );
  }

  // `row` is bjobs' "STAT|EXIT_CODE|EXIT_REASON" for the job, undefined once LSF no longer lists it.
  async #toStatus(id: string, job: ClusterJob, row: string | undefined): Promise<JobStatus> {
    const out = await this.outputs(job.name);
    const paths = { stdoutPath: out.stdoutPath, stderrPath: out.stderrPath };
    if (row === undefined) {
      const exitCode = await this.exitCodeOf(job.name);
      if (exitCode !== undefined) return ended(exitCode !== 0, exitCode, undefined, out.stderrTail, paths);
      job.goneSince ??= Date.now();
      if (Date.now() - job.goneSince < GONE_GRACE_MS) return job.last;
      const why = `LSF no longer lists job ${id} (bjobs -a forgets ended jobs after CLEAN_PERIOD)`;
      return ended(true, undefined, why, out.stderrTail, paths);
    }
    job.goneSince = undefined;
    const [stat, code, ...rest] = row.split("|") as [string, string, ...string[]];
    const known = STATES[stat] ?? { state: "unknown" as const, why: `LSF state ${stat}` };
    if (stat === "EXIT" || known.state === "completed") {
      const exitCode = /^\d+$/.test(code) ? Number(code) : await this.exitCodeOf(job.name);
      const reason = rest.join("|").trim();
      return ended(
        stat === "EXIT",
        exitCode ?? (stat === "EXIT" ? undefined : 0),
        reason === "-" ? undefined : reason,
        out.stderrTail,
        paths,
      );
    }
    const st: JobStatus = { state: known.state, ...paths };
    if (known.why !== undefined) {
      st.message = known.state === "failed" ? `${known.why}; stderr: ${out.stderrTail}` : known.why;
    }
    return st;
  }

  /** Kills live blocks with one `bkill`; a job that had already finished is not counted as cancelled. */
  async cancel(jobIds: readonly string[]): Promise<boolean[]> {
    const live = jobIds.filter((id) => this.jobs.has(id) && !isFinal(this.jobs.get(id)!.last));
    const finished = new Set<string>();
    if (live.length > 0) {
      const argv = ["bkill", ...live];
      const r = await this.exec(argv);
      // "Job <N>: Job has already finished" (exit code 255) only means it ended on its own.
      const other: string[] = [];
      for (const line of r.stderr.split("\n")) {
        const m = /^Job <(\d+)>: Job has already finished/.exec(line);
        if (m) finished.add(m[1]!);
        else if (line.trim() !== "") other.push(line);
      }
      if (r.code !== 0 && (other.length > 0 || finished.size === 0)) throw this.commandFailed(argv, r);
    }
    return jobIds.map((id) => {
      if (!live.includes(id) || finished.has(id)) return false;
      const job = this.jobs.get(id)!;
      job.last = { ...job.last, state: "cancelled" };
      return true;
    });
  }
}

// A job that ended: `failed` as LSF (EXIT) or its exit code says, with LSF's termination reason and stderr's tail.
function ended(
  failed: boolean,
  exitCode: number | undefined,
  reason: string | undefined,
  stderrTail: string,
  paths: Pick<JobStatus, "stdoutPath" | "stderrPath">,
): JobStatus {
  const st: JobStatus = { state: failed ? "failed" : "completed", ...paths };
  if (exitCode !== undefined) st.exitCode = exitCode;
  if (failed) {
    const code = exitCode !== undefined ? `exit code ${exitCode}` : "no exit code";
    st.message = `${reason !== undefined ? `${reason} (${code})` : code}; stderr: ${stderrTail}`;
  }
  return st;
}
