/**
 * The provider contract: a provider gets blocks of nodes (batch jobs) and
 * reports and cancels them. HighThroughputExecutor asks for blocks running
 * `taskloom worker-pool` through the provider's launcher.
 *
 * @example
 * ```ts
 * const provider = new LocalProvider({ initBlocks: 1, maxBlocks: 2 });
 * await load({ executors: [new HighThroughputExecutor({ provider })] });
 * ```
 * @module
 */
import { describe } from "../lib/app.js";
import { ConfigError } from "../lib/errors.js";
import type { Logger } from "../lib/logging.js";
import type { Launcher } from "../launchers/launcher.js";

/** A batch job's state. */
export type JobState = "pending" | "running" | "completed" | "failed" | "cancelled" | "unknown";

/** States a job never leaves. */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set<JobState>(["completed", "failed", "cancelled"]);

/** Has the job ended (completed, failed or cancelled)? */
export function isFinal(s: JobStatus): boolean {
  return TERMINAL_JOB_STATES.has(s.state);
}

/** The status of a job id this provider never issued. */
export function unknownJob(id: string): JobStatus {
  return { state: "unknown", message: `no job ${id} was submitted by this provider` };
}

/** What a provider knows of one job. */
export interface JobStatus {
  state: JobState;
  exitCode?: number;
  message?: string;
  stdoutPath?: string;
  stderrPath?: string;
}

/** What an executor hands its provider at start. */
export interface ProviderContext {
  runDir: string;
  logger: Logger;
}

/** Block options common to every provider (Parsl's names, camelCase). */
export interface BlockOptions {
  /** Blocks started at once. @default 1 */
  initBlocks?: number;
  /** Blocks kept even when idle. @default 0 */
  minBlocks?: number;
  /** Most blocks at a time. @default 1 */
  maxBlocks?: number;
  /** Nodes in one block. @default 1 */
  nodesPerBlock?: number;
  /** Fraction of outstanding tasks to provision slots for, 0 to 1. @default 1 */
  parallelism?: number;
  /** How the worker-pool command is started across the block's nodes. */
  launcher?: Launcher;
  /** Shell lines run before the worker pool (e.g. `module load …`). */
  workerInit?: string;
}

/** Something that gets blocks of nodes. */
export interface Provider {
  readonly label: string;
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly nodesPerBlock: number;
  readonly parallelism: number;
  /** Cores of one node, if known. */
  readonly coresPerNode: number | undefined;
  /** Memory of one node in MB, if known. */
  readonly memPerNode: number | undefined;
  /** Seconds between status polls. */
  readonly statusPollingInterval: number;
  start(ctx: ProviderContext): Promise<void>;
  /** Submits a block running `command`; returns its job id. */
  submit(command: string, tasksPerNode: number, jobName: string): Promise<string>;
  /** Statuses in the order asked; ids it never issued are `unknown`. */
  status(jobIds: readonly string[]): Promise<JobStatus[]>;
  cancel(jobIds: readonly string[]): Promise<boolean[]>;
}

/** Validated block options with Parsl's LocalProvider defaults. */
export function checkBlockOptions(
  where: string,
  o: BlockOptions,
): Required<Pick<BlockOptions, "initBlocks" | "minBlocks" | "maxBlocks" | "nodesPerBlock" | "parallelism">> {
  const out = {
    initBlocks: o.initBlocks ?? 1,
    minBlocks: o.minBlocks ?? 0,
    maxBlocks: o.maxBlocks ?? 1,
    nodesPerBlock: o.nodesPerBlock ?? 1,
    parallelism: o.parallelism ?? 1,
  };
  for (const k of ["initBlocks", "minBlocks", "maxBlocks", "nodesPerBlock"] as const) {
    const v = out[k];
    const min = k === "nodesPerBlock" ? 1 : 0;
    if (!Number.isInteger(v) || v < min) {
      throw new ConfigError(`${where} options.${k}: expected an integer >= ${min}, got ${describe(v)}`);
    }
  }
  if (!(typeof out.parallelism === "number" && out.parallelism >= 0 && out.parallelism <= 1)) {
    throw new ConfigError(
      `${where} options.parallelism: expected a number from 0 to 1, got ${describe(out.parallelism)}`,
    );
  }
  if (out.minBlocks > out.maxBlocks) {
    throw new ConfigError(`${where} options.minBlocks (${out.minBlocks}) must not exceed maxBlocks (${out.maxBlocks})`);
  }
  if (out.initBlocks > out.maxBlocks) {
    throw new ConfigError(
      `${where} options.initBlocks (${out.initBlocks}) must not exceed maxBlocks (${out.maxBlocks})`,
    );
  }
  return out;
}
