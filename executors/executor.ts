/**
 * The contract between the kernel and an executor. An executor runs
 * {@link ExecTask}s somewhere and reports each outcome through
 * {@link ExecutorContext.onResult}, exactly once per submitted task.
 * @module
 */
import type { Logger } from "../lib/logging.js";
import type { NodeEvent, ResourcesMeasured } from "../lib/monitoring/events.js";
import type { StagingPlan, StagingSettings } from "../lib/staging/settings.js";

/** Per-task resource request (TaskVine's vocabulary). Memory and disk in MB. */
export interface Resources {
  cores?: number;
  memory?: number;
  disk?: number;
  gpus?: number;
  numNodes?: number;
  ranksPerNode?: number;
}

/** What a worker needs to find an app: the module to import and the registry key. */
export interface AppRef {
  readonly kind: "app" | "shell";
  /** `file:` URL of the module that defines the app. */
  readonly module: string;
  /** Registry key, unique within the process (module URL, name, ordinal). */
  readonly key: string;
  /** Display name. */
  readonly name: string;
}

/** Shell-app specifics, applied on the worker around the command. */
export interface ShellSpec {
  /** [path, mode] where mode is "a" (append) or "w" (truncate). */
  readonly stdout: readonly [string, "a" | "w"] | undefined;
  readonly stderr: readonly [string, "a" | "w"] | undefined;
  /** Local paths that must exist after success. */
  readonly outputs: readonly string[];
}

/** A task as an executor sees it: arguments already resolved. */
export interface ExecTask {
  readonly id: number;
  readonly fn: AppRef;
  readonly args: readonly unknown[];
  /** Seconds, or undefined for no limit. */
  readonly walltime: number | undefined;
  readonly resources: Resources | undefined;
  readonly priority: number | undefined;
  readonly shell: ShellSpec | undefined;
  /** Set when the task has remote files to stage in or out on its worker. */
  readonly staging: StagingPlan | undefined;
  /** Measure the try's resource use on the worker (and report it in {@link ResultInfo.resources}). */
  readonly measure: boolean;
}

/** Extra facts about a finished task, for monitoring. */
export interface ResultInfo {
  /** Milliseconds the app body ran on the worker. */
  readonly runMs?: number;
  /** What the try used, measured on the worker (when resource monitoring is on). */
  readonly resources?: ResourcesMeasured;
  /** Which worker ran it, e.g. `host:pid` (for timelines). */
  readonly worker?: string;
  /**
   * When the result reached this process (ms since the epoch), read once for a batch of results that came together:
   * the monitor's return time, without a clock read (~50 ns) for each task.
   */
  readonly at?: number;
}

/** Block scaling settings from the config (used by block executors). */
export interface ScalingSettings {
  readonly strategy: "none" | "simple" | "htex_auto_scale";
  /** Seconds between strategy runs. */
  readonly strategyPeriod: number;
  /** Seconds a block may idle before it is scaled in. */
  readonly maxIdleTime: number;
}

/** What the kernel hands an executor at start. */
export interface ExecutorContext {
  /** This run's directory (`runinfo/NNN`). */
  readonly runDir: string;
  readonly scaling: ScalingSettings;
  readonly logger: Logger;
  /** Report an outcome: `ok` with the value, or not `ok` with the error. */
  onResult(task: ExecTask, ok: boolean, value: unknown, info?: ResultInfo): void;
  /** Set when monitoring is on: where block and node events go. */
  readonly monitor?: ExecutorMonitor;
}

/** Block and node events of a block executor, for the monitoring store. */
export interface ExecutorMonitor {
  /** A block was submitted or changed state. */
  block(block: string, job: string | undefined, state: string): void;
  /** A node's manager connected (`active`) or was lost. */
  node(n: Omit<NodeEvent, "t" | "run" | "executor" | "at">): void;
}

/** An executor: where tasks run. */
export interface Executor {
  /** Unique label within a config; apps select executors by it. */
  readonly label: string;
  /** Where and how its tasks' remote files are staged (unset: in the task, in the node's temp dir). */
  readonly staging?: StagingSettings;
  /** Starts the executor; called once by `load()`. */
  start(ctx: ExecutorContext): Promise<void>;
  /** Queues a task; the outcome comes back through `ctx.onResult`. */
  submit(task: ExecTask): void;
  /**
   * Stops a submitted task if it can. The executor reports the task through
   * `onResult` with `error` itself when this returns true.
   */
  cancel(taskId: number, error: Error): boolean;
  /** Throws a ConfigError if these resources cannot be honoured here. */
  validateResources(resources: Resources): void;
  /** Number of tasks submitted and not yet reported. */
  outstanding(): number;
  /** Stops everything; tasks still running are stopped and reported with `error`. */
  shutdown(error: Error): Promise<void>;
}
