/**
 * GridEngineProvider: blocks are (Sun/Son of/Univa) Grid Engine jobs (`qsub`),
 * polled with one `qstat` for all of them, cancelled with `qdel`.
 * @module
 */
import { describe } from "../../lib/app.js";
import { ConfigError } from "../../lib/errors.js";
import { CLUSTER_KEYS, ClusterProvider, type ClusterJob, type ClusterOptions } from "../cluster.js";
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

  submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    return this.submitScript(jobName, this.script(command, tasksPerNode, jobName), (f) => ["qsub", "-terse", f]);
  }

  status(jobIds: readonly string[]): Promise<JobStatus[]> {
    return this.statusOf(
      jobIds,
      async () => {
        // One qstat for every block; finished jobs are no longer listed.
        const r = await this.execOk(["qstat"]);
        const seen = new Map<string, string>();
        for (const line of r.stdout.split("\n").slice(2)) {
          const f = line.trim().split(/\s+/);
          if (f.length >= 5 && /^\d+$/.test(f[0]!)) seen.set(f[0]!, f[4]!);
        }
        return seen;
      },
      (id, job, code) => this.#toStatus(id, job, code),
    );
  }

  async #toStatus(id: string, job: ClusterJob, code: string | undefined): Promise<JobStatus> {
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

  cancel(jobIds: readonly string[]): Promise<boolean[]> {
    return this.cancelWith(jobIds, (ids) => ["qdel", ...ids]);
  }
}
