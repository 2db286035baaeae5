/**
 * Configuration of a {@link DataFlowKernel}: a plain object, validated up
 * front by `load()`. Field names are Parsl's, in camelCase.
 *
 * @example
 * ```ts
 * await load({
 *   executors: [new ThreadPoolExecutor({ label: "local", maxThreads: 4 })],
 *   retries: 2,
 *   checkpointMode: "task_exit",
 * });
 * ```
 * @module
 */
import type { Executor } from "../executors/executor.js";
import type { LogLevel } from "./logging.js";
import type { MonitoringOptions } from "./monitoring/monitor.js";

/** When completed cached results are written to the checkpoint file. */
export type CheckpointMode = "task_exit" | "periodic" | "dfk_exit" | "manual";

/** What a retry handler is told about the failing task. */
export interface RetryInfo {
  readonly taskId: number;
  readonly appName: string;
  /** Failures so far, including this one. */
  readonly failCount: number;
  /** Cost accumulated before this failure. */
  readonly failCost: number;
}

/** Logging: `false` for none, `true` for `info`, or a level. */
export type LoggingOption = boolean | { level: LogLevel };

/** Kernel configuration. Every field is optional. */
export interface Config {
  /** Where tasks run. @default `[new ThreadPoolExecutor()]` sized to the machine's cores */
  executors?: Executor[];
  /** Retry budget per task (failures cost 1 each unless `retryHandler` says otherwise). @default 0 */
  retries?: number;
  /** Cost of one failure; a task is retried while its total cost is at most `retries`. If it throws, its error becomes the task's. */
  retryHandler?: (error: unknown, task: RetryInfo) => number;
  /** Memoization switch for apps with `cache: true`. @default true */
  appCache?: boolean;
  /** When to checkpoint; unset means no checkpoint file. */
  checkpointMode?: CheckpointMode;
  /** Checkpoint files (or run directories) to load results from. Default with a mode set: every earlier run's. */
  checkpointFiles?: string[];
  /** Period for `periodic` mode: seconds, or `"HH:MM:SS"`. @default "00:30:00" */
  checkpointPeriod?: number | string;
  /** Block scaling strategy (used by block executors). @default "simple" */
  strategy?: "none" | "simple" | "htex_auto_scale";
  /** Seconds between strategy runs. @default 5 */
  strategyPeriod?: number;
  /** Seconds a block may idle before it is scaled in. @default 120 */
  maxIdleTime?: number;
  /**
   * Record the run in a monitoring store: `true` for SQLite at `<runDir>/monitoring.db`, or options (a PostgreSQL
   * URL, per-try resource measurement, …). @default off
   */
  monitoring?: boolean | MonitoringOptions;
  /** Base of the numbered run directories. @default "./runinfo" */
  runDir?: string;
  /** Run log `runDir/NNN/taskloom.log`. @default true (level info) */
  initializeLogging?: LoggingOption;
  /** What `[Symbol.asyncDispose]` does: clean up at once, wait for tasks first, or leave the kernel running. @default "cleanup" */
  exitMode?: "cleanup" | "wait" | "skip";
}
