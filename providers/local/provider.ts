/**
 * LocalProvider: blocks are processes on this machine, as Parsl's. Each block
 * runs its job script with bash in a process group of its own, writing
 * `.out`, `.err` and, when it ends, its exit code to `.ec` beside the script
 * in `runinfo/NNN/submit_scripts`.
 * @module
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkOptionKeys } from "../../lib/options.js";
import { ProviderError } from "../../lib/errors.js";
import { killProcessGroup } from "../../executors/runtime/shell.js";
import type { Launcher } from "../../launchers/launcher.js";
import { SingleNodeLauncher } from "../../launchers/single-node.js";
import {
  checkBlockOptions,
  type BlockOptions,
  type JobStatus,
  type Provider,
  type ProviderContext,
} from "../provider.js";
import { localJobScript } from "./template.js";

/** Options of {@link LocalProvider}. */
export type LocalProviderOptions = BlockOptions;

interface Job {
  pid: number;
  base: string;
  cancelled: boolean;
}

const KNOWN = ["initBlocks", "minBlocks", "maxBlocks", "nodesPerBlock", "parallelism", "launcher", "workerInit"];

/**
 * Blocks as local processes.
 * @example
 * ```ts
 * new HighThroughputExecutor({ provider: new LocalProvider({ initBlocks: 1, maxBlocks: 2 }) });
 * ```
 */
export class LocalProvider implements Provider {
  readonly label = "local";
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly nodesPerBlock: number;
  readonly parallelism: number;
  readonly coresPerNode = os.availableParallelism();
  readonly memPerNode = Math.floor(os.totalmem() / 2 ** 20);
  readonly statusPollingInterval = 1;
  readonly launcher: Launcher;
  readonly workerInit: string;
  #dir: string | undefined;
  readonly #jobs = new Map<string, Job>();

  constructor(options: LocalProviderOptions = {}) {
    checkOptionKeys("LocalProvider", options, KNOWN);
    const b = checkBlockOptions("LocalProvider", options);
    this.initBlocks = b.initBlocks;
    this.minBlocks = b.minBlocks;
    this.maxBlocks = b.maxBlocks;
    this.nodesPerBlock = b.nodesPerBlock;
    this.parallelism = b.parallelism;
    this.launcher = options.launcher ?? new SingleNodeLauncher();
    this.workerInit = options.workerInit ?? "";
  }

  start(ctx: ProviderContext): Promise<void> {
    this.#dir = path.join(ctx.runDir, "submit_scripts");
    fs.mkdirSync(this.#dir, { recursive: true });
    return Promise.resolve();
  }

  submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    if (this.#dir === undefined) return Promise.reject(new ProviderError("LocalProvider.submit before start"));
    const base = path.join(this.#dir, jobName);
    fs.writeFileSync(
      `${base}.sh`,
      localJobScript(
        jobName,
        this.#dir,
        this.workerInit,
        this.launcher.wrap(command, tasksPerNode, this.nodesPerBlock),
      ),
      {
        mode: 0o755,
      },
    );
    const child = spawn(
      "/bin/bash",
      ["-c", 'bash "$0" > "$1" 2> "$2"; echo $? > "$3"', `${base}.sh`, `${base}.out`, `${base}.err`, `${base}.ec`],
      {
        detached: true,
        stdio: "ignore",
      },
    );
    if (child.pid === undefined) return Promise.reject(new ProviderError(`LocalProvider could not start ${base}.sh`));
    child.unref();
    child.on("error", () => {});
    const id = String(child.pid);
    this.#jobs.set(id, { pid: child.pid, base, cancelled: false });
    return Promise.resolve(id);
  }

  status(jobIds: readonly string[]): Promise<JobStatus[]> {
    return Promise.resolve(jobIds.map((id) => this.#status(id)));
  }

  #status(id: string): JobStatus {
    const job = this.#jobs.get(id);
    if (job === undefined) return { state: "unknown", message: `no job ${id} was submitted by this provider` };
    const paths = { stdoutPath: `${job.base}.out`, stderrPath: `${job.base}.err` };
    if (job.cancelled) return { state: "cancelled", ...paths };
    let ec: string | undefined;
    try {
      ec = fs.readFileSync(`${job.base}.ec`, "utf8").trim();
    } catch {
      ec = undefined;
    }
    if (ec !== undefined && ec !== "") {
      const exitCode = Number(ec);
      if (exitCode === 0) return { state: "completed", exitCode, ...paths };
      return {
        state: "failed",
        exitCode,
        message: `exit code ${exitCode}; stderr: ${tail(paths.stderrPath)}`,
        ...paths,
      };
    }
    if (alive(job.pid)) return { state: "running", ...paths };
    return {
      state: "failed",
      message: `the block's process ${job.pid} is gone without an exit code; stderr: ${tail(paths.stderrPath)}`,
      ...paths,
    };
  }

  /**
   * Sends SIGTERM to each live job's process group (so a worker pool can stop its workers' commands, which have
   * groups of their own), SIGKILL to a group still there 2 s later, and resolves once the jobs are gone.
   */
  async cancel(jobIds: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    const dying: number[] = [];
    for (const id of jobIds) {
      const job = this.#jobs.get(id);
      if (job === undefined || job.cancelled || this.#status(id).state !== "running") {
        out.push(false);
        continue;
      }
      job.cancelled = true;
      out.push(true);
      try {
        process.kill(-job.pid, "SIGTERM");
        dying.push(job.pid);
      } catch {
        // already gone
      }
    }
    const gone = async (ms: number): Promise<boolean> => {
      for (const end = Date.now() + ms; Date.now() < end;) {
        if (!dying.some(alive)) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return !dying.some(alive);
    };
    if (dying.length > 0 && !(await gone(2000))) {
      for (const pid of dying) killProcessGroup(pid);
      await gone(1000);
    }
    return out;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function tail(file: string, lines = 5): string {
  try {
    const text = fs.readFileSync(file, "utf8").trimEnd();
    return text === "" ? "(empty)" : text.split("\n").slice(-lines).join("\n");
  } catch {
    return "(none)";
  }
}
