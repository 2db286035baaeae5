/**
 * GridEngineProvider: blocks are (Sun/Son of/Univa) Grid Engine jobs (`qsub`),
 * polled with one `qstat` for all of them, cancelled with `qdel`.
 * @module
 */
import { describe } from "../../lib/app.js";
import { ConfigError, ProviderError } from "../../lib/errors.js";
import { CLUSTER_KEYS, ClusterProvider, type ClusterOptions } from "../cluster.js";
import type { JobState, JobStatus } from "../provider.js";
import { gridEngineScript } from "./template.js";

/** Options of {@link GridEngineProvider}. */
export interface GridEngineProviderOptions extends ClusterOptions {
  /** Queue (`-q`). */
  queue?: string;
  /** Parallel environment and slots (`-pe`), e.g. `"smp 4"`. */
  pe?: string;
}

const KNOWN = [...CLUSTER_KEYS, "queue", "pe"];
const ACCOUNTING_GRACE_MS = 30_000;

interface Job {
  name: string;
  last: JobStatus;
  /** When qstat stopped listing it (its accounting record comes a few seconds later). */
  goneSince?: number;
}

/**
 * Blocks as Grid Engine jobs.
 * @example
 * ```ts
 * new HighThroughputExecutor({ provider: new GridEngineProvider({ queue: "all.q", walltime: "01:00:00" }) });
 * ```
 */
export class GridEngineProvider extends ClusterProvider {
  readonly label = "gridengine";
  readonly queue: string | undefined;
  readonly pe: string | undefined;
  readonly #jobs = new Map<string, Job>();

  constructor(options: GridEngineProviderOptions = {}) {
    super("GridEngineProvider", options, KNOWN);
    if (options.queue !== undefined && !(typeof options.queue === "string" && /^\S+$/.test(options.queue))) {
      throw new ConfigError(`GridEngineProvider options.queue: expected a queue name, got ${describe(options.queue)}`);
    }
    if (options.pe !== undefined && !(typeof options.pe === "string" && /^\S+ \S+$/.test(options.pe))) {
      throw new ConfigError(
        `GridEngineProvider options.pe: expected "<environment> <slots>", got ${describe(options.pe)}`,
      );
    }
    this.queue = options.queue;
    this.pe = options.pe;
  }

  /** The script a block runs. */
  script(command: string, tasksPerNode: number, jobName: string): string {
    return gridEngineScript({
      jobName,
      scriptDir: this.jobDir,
      walltime: this.walltime,
      queue: this.queue,
      pe: this.pe,
      schedulerOptions: this.schedulerOptions,
      workerInit: this.workerInit,
      launched: this.launcher.wrap(command, tasksPerNode, this.nodesPerBlock),
    });
  }

  async submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    const file = await this.writeScript(jobName, this.script(command, tasksPerNode, jobName));
    const r = await this.execOk(["qsub", "-terse", file]);
    const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
    if (id === undefined) throw new ProviderError(`qsub ${file} printed no job id: ${JSON.stringify(r.stdout.trim())}`);
    this.#jobs.set(id, { name: jobName, last: { state: "pending" } });
    return id;
  }

  async status(jobIds: readonly string[]): Promise<JobStatus[]> {
    const live = jobIds.filter((id) => this.#jobs.has(id) && !final(this.#jobs.get(id)!.last));
    const seen = new Map<string, string>();
    if (live.length > 0) {
      // One qstat for every block; finished jobs are no longer listed.
      const r = await this.execOk(["qstat"]);
      for (const line of r.stdout.split("\n").slice(2)) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 5 && /^\d+$/.test(f[0]!)) seen.set(f[0]!, f[4]!);
      }
    }
    const out: JobStatus[] = [];
    for (const id of jobIds) {
      const job = this.#jobs.get(id);
      if (job === undefined) {
        out.push({ state: "unknown", message: `no job ${id} was submitted by this provider` });
        continue;
      }
      if (live.includes(id)) job.last = await this.#toStatus(id, job, seen.get(id));
      out.push(job.last);
    }
    return out;
  }

  async #toStatus(id: string, job: Job, code: string | undefined): Promise<JobStatus> {
    const name = job.name;
    const out = await this.outputs(name);
    const paths = { stdoutPath: out.stdoutPath, stderrPath: out.stderrPath };
    if (code !== undefined) {
      if (code.includes("E"))
        return { state: "failed", message: `job in error state ${code}; stderr: ${out.stderrTail}`, ...paths };
      const state: JobState = code.includes("d") ? "cancelled" : /[rt]/.test(code) ? "running" : "pending";
      return { state, ...paths };
    }
    // Gone from qstat: its own exit code file, else the accounting record (a killed job writes no file).
    let exitCode = await this.exitCodeOf(name);
    let why: string | undefined;
    if (exitCode === undefined) {
      job.goneSince ??= Date.now();
      const acct = await this.exec(["qacct", "-j", id]);
      // Not accounted yet: give Grid Engine a little while before calling it lost.
      if (acct.code !== 0 && Date.now() - job.goneSince < ACCOUNTING_GRACE_MS) return job.last;
      const ex = /^exit_status\s+(\d+)/m.exec(acct.stdout);
      const failed = /^failed\s+(\d+)\s*:?\s*(.*)$/m.exec(acct.stdout);
      if (ex) exitCode = Number(ex[1]);
      if (failed && failed[1] !== "0") why = failed[2]!.trim() || `failed ${failed[1]}`;
    }
    const st: JobStatus = { state: exitCode === 0 && why === undefined ? "completed" : "failed", ...paths };
    if (exitCode !== undefined) st.exitCode = exitCode;
    if (st.state === "failed") {
      st.message = `${why ?? (exitCode !== undefined ? `exit code ${exitCode}` : "ended without an exit code")}; stderr: ${out.stderrTail}`;
    }
    return st;
  }

  async cancel(jobIds: readonly string[]): Promise<boolean[]> {
    const mine = jobIds.filter((id) => this.#jobs.has(id) && !final(this.#jobs.get(id)!.last));
    if (mine.length > 0) await this.exec(["qdel", ...mine]);
    return jobIds.map((id) => {
      const job = this.#jobs.get(id);
      if (job === undefined || !mine.includes(id)) return false;
      job.last = { ...job.last, state: "cancelled" };
      return true;
    });
  }
}

function final(s: JobStatus): boolean {
  return s.state === "completed" || s.state === "failed" || s.state === "cancelled";
}
