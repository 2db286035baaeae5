/**
 * The process-wide current kernel, kept on `globalThis` so that apps
 * defined through one copy of taskloom reach a kernel loaded through another.
 * @module
 */
import type { AppDef } from "../app.js";
import { NoKernelError } from "../errors.js";
import { AppFuture } from "../future.js";
import type { TaskState } from "../states.js";

/** What an app call needs from the kernel. */
export interface KernelLike {
  submit(def: AppDef, args: unknown[]): AppFuture<unknown>;
  /** Tasks in each state (absent on a kernel of another taskloom version). */
  taskStateCounts?(): Record<TaskState, number>;
}

const KEY = Symbol.for("taskloom.currentKernel");
const g = globalThis as Record<symbol, KernelLike | undefined>;

/** The loaded kernel, if any. */
export function currentKernel(): KernelLike | undefined {
  return g[KEY];
}

/** @internal */
export function setCurrentKernel(k: KernelLike | undefined): void {
  g[KEY] = k;
}

/** Submits to the loaded kernel, or returns a future rejected with NoKernelError. */
export function submitToCurrentKernel(def: AppDef, args: unknown[]): AppFuture<unknown> {
  const k = g[KEY];
  if (k !== undefined) return k.submit(def, args);
  const f = new AppFuture<unknown>(-1, undefined);
  f._finish(
    "failed",
    false,
    new NoKernelError(`app ${def.name} was called with no DataFlowKernel loaded: call \`await load()\` first`),
  );
  return f;
}
