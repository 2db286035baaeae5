/**
 * Every error taskloom raises is a {@link TaskloomError} with a stable `code`.
 * `instanceof` works across two copies of the package (say, the one a worker
 * loaded and the one the workflow loaded) through a `Symbol.for` brand.
 *
 * @example
 * ```ts
 * try { await shell({ walltime: 1 }); }
 * catch (e) { if (e instanceof AppTimeoutError) console.log(e.code); }
 * ```
 * @module
 */

const BRAND = Symbol.for("taskloom.error");

/** Base class of every taskloom error. */
export class TaskloomError extends Error {
  /** Stable machine-readable code, e.g. `TASKLOOM_SHELL_EXIT`. */
  readonly code: string;

  constructor(message: string, code = "TASKLOOM_ERROR", options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, BRAND, { value: this.constructor.name });
  }

  override get name(): string {
    return this.constructor.name;
  }

  static override [Symbol.hasInstance](obj: unknown): boolean {
    if (obj === null || typeof obj !== "object" || !(BRAND in obj)) return false;
    if (this === TaskloomError) return true;
    // A subclass matches its own brand or any class that extends it, in either copy.
    let proto: unknown = Object.getPrototypeOf(obj);
    while (proto !== null && proto !== undefined) {
      const ctor = (proto as { constructor?: { name?: string } }).constructor;
      if (ctor === this || ctor?.name === this.name) return true;
      proto = Object.getPrototypeOf(proto);
    }
    return false;
  }
}

/** A dependency of the task failed, so the task never ran (state `dep_fail`). */
export class DependencyError extends TaskloomError {
  /** Ids of the failed dependencies (or a description for a foreign promise). */
  readonly taskIds: (number | string)[];
  /** One entry per failed dependency. */
  readonly errors: unknown[];
  constructor(taskId: number, taskIds: (number | string)[], errors: unknown[], root: unknown) {
    super(
      `Dependency failure for task ${taskId}: ${taskIds.map(describeDep).join(", ")} failed` +
        (root instanceof Error ? ` (root cause: ${root.name}: ${root.message})` : ""),
      "TASKLOOM_DEPENDENCY",
      { cause: root },
    );
    this.taskIds = taskIds;
    this.errors = errors;
  }
}

function describeDep(d: number | string): string {
  return typeof d === "number" ? `task ${d}` : d;
}

/** One or more futures returned by a join app failed. */
export class JoinError extends TaskloomError {
  /** One error per failed inner future, in order. */
  readonly errors: unknown[];
  readonly taskIds: (number | string)[];
  constructor(taskId: number, taskIds: (number | string)[], errors: unknown[]) {
    super(`Join failure for task ${taskId}: ${taskIds.map(describeDep).join(", ")} failed`, "TASKLOOM_JOIN", {
      cause: errors[0],
    });
    this.errors = errors;
    this.taskIds = taskIds;
  }
}

/** A shell app's command exited non-zero. */
export class ShellExitError extends TaskloomError {
  constructor(
    readonly appName: string,
    readonly exitCode: number,
    readonly stdout?: string,
    readonly stderr?: string,
  ) {
    super(`shell app ${appName} failed with exit code ${exitCode}`, "TASKLOOM_SHELL_EXIT");
  }
}

/** A task finished but some declared `outputs` file does not exist. */
export class MissingOutputsError extends TaskloomError {
  constructor(readonly outputs: string[]) {
    super(`missing outputs after the task succeeded: ${outputs.join(", ")}`, "TASKLOOM_MISSING_OUTPUTS");
  }
}

/** A task ran longer than its `walltime` (seconds) and was stopped. */
export class AppTimeoutError extends TaskloomError {
  constructor(readonly walltime: number) {
    super(`task exceeded its walltime of ${walltime} s and was stopped`, "TASKLOOM_APP_TIMEOUT");
  }
}

/** A manager (worker pool) stopped answering; its tasks are lost. */
export class ManagerLostError extends TaskloomError {
  constructor(
    readonly managerId: string,
    readonly hostname: string,
  ) {
    super(`manager ${managerId} on ${hostname} was lost`, "TASKLOOM_MANAGER_LOST");
  }
}

/** The worker running a task died (crash, exit, out of memory). */
export class WorkerLostError extends TaskloomError {
  constructor(
    readonly workerId: string,
    readonly hostname: string,
    detail = "",
  ) {
    super(
      `worker ${workerId} on ${hostname} died while running the task${detail ? `: ${detail}` : ""}`,
      "TASKLOOM_WORKER_LOST",
    );
  }
}

/** A value could not be sent to a worker, hashed or stored. */
export class SerializationError extends TaskloomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "TASKLOOM_SERIALIZATION", options);
  }
}

/** Invalid configuration or call options: names the field, the value and what is allowed. */
export class ConfigError extends TaskloomError {
  constructor(message: string) {
    super(message, "TASKLOOM_CONFIG");
  }
}

/** The task was cancelled before it finished. */
export class TaskCancelledError extends TaskloomError {
  constructor(
    readonly taskId: number,
    reason = "cancelled",
  ) {
    super(`task ${taskId} was cancelled: ${reason}`, "TASKLOOM_CANCELLED");
  }
}

/** What a {@link StagingError} can tell about the failed transfer, besides its message. */
export interface StagingErrorDetails {
  cause?: unknown;
  /** The remote URL, with any password removed. */
  url?: string;
  /** HTTP status or FTP reply code of the last answer, if one came. */
  status?: number;
  /** Bytes received (download) or sent (upload) in the last attempt. */
  bytes?: number;
  /** Attempts made, retries included. */
  attempts?: number;
}

/** Moving a file to or from where a task runs failed. */
export class StagingError extends TaskloomError {
  // `declare`: no own property unless set, so wire copies carry only what is known.
  declare readonly url?: string;
  declare readonly status?: number;
  declare readonly bytes?: number;
  declare readonly attempts?: number;
  constructor(message: string, options?: StagingErrorDetails) {
    super(message, "TASKLOOM_STAGING", options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.url !== undefined) this.url = options.url;
    if (options?.status !== undefined) this.status = options.status;
    if (options?.bytes !== undefined) this.bytes = options.bytes;
    if (options?.attempts !== undefined) this.attempts = options.attempts;
  }
}

/** A provider could not submit, query or cancel a block. */
export class ProviderError extends TaskloomError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "TASKLOOM_PROVIDER", options);
  }
}

/** An app was called, or `dfk()` asked for, with no kernel loaded. */
export class NoKernelError extends TaskloomError {
  constructor(message = "no DataFlowKernel is loaded: call `await load()` first") {
    super(message, "TASKLOOM_NO_KERNEL");
  }
}

/** A worker could not find the app it was asked to run. */
export class AppNotFoundError extends TaskloomError {
  constructor(message: string) {
    super(message, "TASKLOOM_APP_NOT_FOUND");
  }
}

/**
 * A task used more of a resource than its `resources` allowed and was
 * killed: a shell app's whole process group, or the HTEX worker process
 * running a JS app (its manager starts a new one). Amounts in MB (MiB).
 *
 * @example
 * ```ts
 * try { await bigJob({ resources: { memory: 500 } }); }
 * catch (e) { if (e instanceof ResourceExceededError) console.log(e.resource, e.used, e.limit); }
 * ```
 */
export class ResourceExceededError extends TaskloomError {
  constructor(
    readonly taskId: number,
    readonly appName: string,
    readonly resource: "memory",
    readonly limit: number,
    readonly used: number,
  ) {
    super(
      `task ${taskId} (app ${appName}) used ${used} MB of ${resource}, over its limit of ${limit} MB (resources.${resource})`,
      "TASKLOOM_RESOURCE_EXCEEDED",
    );
  }
}

/** Classes revived by name when an error comes back from a worker. */
export const errorClasses: Record<string, new (...args: never[]) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  TaskloomError,
  DependencyError,
  JoinError,
  ShellExitError,
  MissingOutputsError,
  AppTimeoutError,
  ManagerLostError,
  WorkerLostError,
  SerializationError,
  ConfigError,
  TaskCancelledError,
  StagingError,
  ProviderError,
  NoKernelError,
  AppNotFoundError,
  ResourceExceededError,
};
