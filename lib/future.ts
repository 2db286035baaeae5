/**
 * Futures: what an app call returns at once. An {@link AppFuture} is
 * awaitable (`PromiseLike`), so `await`, `Promise.all` and `.then` work; it
 * makes no promise until one is asked for, so a failed task nobody awaits
 * raises no unhandled rejection.
 *
 * @example
 * ```ts
 * const f = add(1, 2);
 * f.taskId;        // 1
 * await f;         // 3
 * f.done();        // true
 * ```
 * @module
 */
import type { File } from "./file.js";
import type { TaskState } from "./states.js";
import type { ResourcesMeasured } from "./monitoring/events.js";

const PENDING = 0;
const FULFILLED = 1;
const REJECTED = 2;

type Listener = () => void;

// Shared by every future without outputs; frozen so it is never mutated in place.
const NO_OUTPUTS: DataFuture[] = Object.freeze([]) as unknown as DataFuture[];

/** Base of AppFuture and DataFuture: settles once, notifies listeners without promises. */
abstract class Settleable<T> implements PromiseLike<T> {
  #state = PENDING;
  #value: unknown = undefined;
  #listeners: Listener | Listener[] | undefined = undefined;
  #promise: Promise<T> | undefined = undefined;
  // Typed loosely so that AppFuture<number> stays assignable to AppFuture<unknown>.
  #resolve: ((v: unknown) => void) | undefined = undefined;
  #reject: ((e: unknown) => void) | undefined = undefined;

  /** True once the future has a result or an error. */
  done(): boolean {
    return this.#state !== PENDING;
  }

  /** The error if the future failed, else `undefined` (also while it is pending). */
  exception(): unknown {
    return this.#state === REJECTED ? this.#value : undefined;
  }

  /** A promise of the result (the same one on every call). */
  result(): Promise<T> {
    if (this.#promise !== undefined) return this.#promise;
    if (this.#state === FULFILLED) return (this.#promise = Promise.resolve(this.#value as T));
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a task may throw anything
    if (this.#state === REJECTED) return (this.#promise = Promise.reject(this.#value));
    // The resolvers are kept as fields, not wrapped in a listener closure: a million awaited futures add up.
    return (this.#promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve as (v: unknown) => void;
      this.#reject = reject;
    }));
  }

  // One promise per call, not a cached one plus a derived one: `await` and `Promise.all` call
  // this once per future, and a million pending futures add up.
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (this.#state !== PENDING) return this.result().then(onFulfilled, onRejected);
    return new Promise<R1 | R2>((resolve, reject) => {
      this._onSettled(() =>
        // Callbacks run as promise callbacks do: later, never inside the kernel's completion path.
        queueMicrotask(() => {
          const ok = this.#state === FULFILLED;
          const fn = ok ? onFulfilled : onRejected;
          if (typeof fn !== "function") {
            if (ok) resolve(this.#value as R1);
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a task may throw anything
            else reject(this.#value);
            return;
          }
          try {
            resolve((fn as (v: unknown) => R1 | R2 | PromiseLike<R1 | R2>)(this.#value));
          } catch (e) {
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrown as given
            reject(e);
          }
        }),
      );
    });
  }

  /** As `Promise.prototype.catch`. */
  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  /** As `Promise.prototype.finally`. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.result().finally(onFinally);
  }

  /** @internal true when fulfilled; read `_value` then. */
  _ok(): boolean {
    return this.#state === FULFILLED;
  }

  /** @internal the result or the error, once settled. */
  _value(): unknown {
    return this.#value;
  }

  /** @internal calls `fn` once when settled (at once if already settled). */
  _onSettled(fn: Listener): void {
    if (this.#state !== PENDING) {
      fn();
      return;
    }
    const l = this.#listeners;
    if (l === undefined) this.#listeners = fn;
    else if (typeof l === "function") this.#listeners = [l, fn];
    else l.push(fn);
  }

  /** @internal settles once; later calls are ignored and return false. */
  _settle(ok: boolean, value: unknown): boolean {
    if (this.#state !== PENDING) return false;
    this.#state = ok ? FULFILLED : REJECTED;
    this.#value = value;
    const l = this.#listeners;
    this.#listeners = undefined;
    if (l !== undefined) {
      if (typeof l === "function") l();
      else for (const fn of l) fn();
    }
    if (this.#resolve !== undefined) {
      if (ok) this.#resolve(value);
      else this.#reject!(value);
      this.#resolve = this.#reject = undefined;
    }
    return true;
  }
}

/** What a future needs from the kernel; kept small so futures stay light. */
export interface FutureHost {
  /** Current state of a task. */
  stateOf(taskId: number): TaskState;
  /** Cancels a task; true if it will not complete normally. */
  cancel(taskId: number): boolean;
}

/** The future of an app call. */
export class AppFuture<T> extends Settleable<T> {
  /** The kernel's id of the task. */
  readonly taskId: number;
  /** One DataFuture per File in the call's `outputs`. */
  outputs: DataFuture[] = NO_OUTPUTS;
  /** The `stdout` the call asked for: its path, or a DataFuture when given as a File; undefined if none. */
  stdout: string | DataFuture | undefined = undefined;
  /** The `stderr` the call asked for: its path, or a DataFuture when given as a File; undefined if none. */
  stderr: string | DataFuture | undefined = undefined;
  /**
   * What the task's last try used, measured on its worker: peak RSS (KiB),
   * CPU user/system ms, wall ms, a shell app's exit status and the worker's
   * pid. Set when the try ends, for a try that succeeded or failed, only when
   * resource monitoring is on (`monitoring: { resources: true }`);
   * `undefined` otherwise, or when the worker could not report (it was lost).
   * How it is measured differs per executor: see `executors/runtime/measure.ts`.
   *
   * @example
   * ```ts
   * const f = simulate(42);
   * await f;
   * console.log(f.resourcesMeasured?.peakRssKiB, f.resourcesMeasured?.cpuUserMs);
   * ```
   */
  resourcesMeasured: ResourcesMeasured | undefined = undefined;
  // The kernel while the task runs, then its final state: one slot, since a million futures add up.
  #hostOrFinal: FutureHost | TaskState | undefined;

  /** @internal futures are made by the kernel. */
  constructor(taskId: number, host: FutureHost | undefined) {
    super();
    this.taskId = taskId;
    this.#hostOrFinal = host;
  }

  /** The task's state: `pending`, `launched`, `running`, `exec_done`, … */
  get status(): TaskState {
    const h = this.#hostOrFinal;
    if (typeof h === "string") return h;
    return h?.stateOf(this.taskId) ?? "failed";
  }

  /**
   * Cancels the task: one not yet launched never runs; a running one is
   * stopped where the executor can. Returns false if it already finished.
   * The future then rejects with `TaskCancelledError`; dependants with `DependencyError`.
   */
  cancel(): boolean {
    const h = this.#hostOrFinal;
    if (this.done() || h === undefined || typeof h === "string") return false;
    return h.cancel(this.taskId);
  }

  /** @internal settles with the task's final state. */
  _finish(state: TaskState, ok: boolean, value: unknown): boolean {
    if (this.done()) return false;
    this.#hostOrFinal = state;
    return this._settle(ok, value);
  }
}

/** The future of a file a task produces: resolves to the File when the task succeeds. */
export class DataFuture extends Settleable<File> {
  /** The File this future stands for. */
  readonly file: File;
  /** The task (future) that produces it. */
  readonly parent: AppFuture<unknown>;

  /** @internal made by the kernel for each `outputs` entry. */
  constructor(parent: AppFuture<unknown>, file: File) {
    super();
    this.parent = parent;
    this.file = file;
    parent._onSettled(() => {
      if (parent._ok()) this._settle(true, file);
      else this._settle(false, parent._value());
    });
  }

  /** The file's local path. */
  get filepath(): string {
    return this.file.filepath;
  }

  /** The producing task's id. */
  get taskId(): number {
    return this.parent.taskId;
  }
}

/** True for taskloom futures of either kind. */
export function isTaskloomFuture(v: unknown): v is AppFuture<unknown> | DataFuture {
  return v instanceof Settleable;
}
