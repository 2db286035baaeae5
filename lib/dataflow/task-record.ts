/**
 * The kernel's record of one task. It doubles as the {@link ExecTask} an
 * executor receives, so a submission allocates one object, not two. What
 * only some tasks need (call options, retry counts, memo hash) lives in
 * side objects made on demand: a million pending tasks add up.
 * Records of finished tasks are dropped by the kernel; the future keeps
 * only the outcome.
 * @module
 */
import type { AppRef, ExecTask, Executor, Resources, ShellSpec } from "../../executors/executor.js";
import type { AppDef } from "../app.js";
import type { StagingPlan } from "../staging/settings.js";
import type { AppFuture } from "../future.js";
import type { TaskState } from "../states.js";
import type { ForeignResults } from "./dependencies.js";

/** @internal options a call set (absent for most calls). */
export interface TaskOptions {
  walltime: number | undefined;
  resources: Resources | undefined;
  priority: number | undefined;
  shell: ShellSpec | undefined;
  tag: string | undefined;
}

/** @internal bookkeeping only some tasks need. */
export interface TaskExtra {
  foreign?: ForeignResults;
  failCount: number;
  failCost: number;
  hash?: string;
  /** Set when call options were invalid: the task fails at launch with it. */
  invalid?: Error;
  /** Its remote files, for the worker. */
  staging?: StagingPlan;
  /** The executor it must run on (a staging task, or a task whose inputs were staged there). */
  pinned?: Executor;
  /** Retry budget instead of the app's (staging tasks take their app's). */
  retries?: number;
  /** The separate staging tasks it waits for: their failure is its StagingError. */
  stagers?: Set<unknown>;
  /** Releases its hold on temporary files when it ends. */
  release?: () => void;
}

/** @internal */
export class TaskRecord implements ExecTask {
  readonly id: number;
  readonly def: AppDef;
  readonly fn: AppRef;
  /** Arguments as given (futures included) until launch, then resolved. */
  args: unknown[];
  state: TaskState = "pending";
  future!: AppFuture<unknown>;
  /** Dependencies not yet settled (plus one while the scan runs). */
  depsLeft = 1;
  /** Whether any argument held a future (so resolution is needed). */
  hasDeps = false;
  executor: Executor | undefined = undefined;
  opts: TaskOptions | undefined = undefined;
  extra: TaskExtra | undefined = undefined;
  /** Resource monitoring is on: the worker measures each try. */
  measure = false;
  /** When the current try was launched, ms after the kernel's clock base; 0 if not (kept only with monitoring on). */
  launchedAt = 0;

  constructor(id: number, def: AppDef, ref: AppRef, args: unknown[]) {
    this.id = id;
    this.def = def;
    this.fn = ref;
    this.args = args;
  }

  get walltime(): number | undefined {
    return this.opts?.walltime;
  }
  get resources(): Resources | undefined {
    return this.opts ? this.opts.resources : this.def.resources;
  }
  get priority(): number | undefined {
    return this.opts?.priority;
  }
  get shell(): ShellSpec | undefined {
    return this.opts?.shell ?? (this.def.kind === "shell" ? NO_SHELL_OPTIONS : undefined);
  }
  get staging(): StagingPlan | undefined {
    return this.extra?.staging;
  }

  /** The side object for retries, memo and foreign promises. */
  x(): TaskExtra {
    return (this.extra ??= { failCount: 0, failCost: 0 });
  }
}

const NO_SHELL_OPTIONS: ShellSpec = Object.freeze({ stdout: undefined, stderr: undefined, outputs: [] });
