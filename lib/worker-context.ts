/**
 * Whether this code runs inside a taskloom worker. A worker imports the
 * module that defines an app, so a workflow script that defines its apps
 * must not run its workflow there.
 *
 * @example
 * ```ts
 * export const double = app((x: number) => 2 * x);
 * if (!isWorker()) {
 *   await load();
 *   console.log(await double(21));
 * }
 * ```
 * @module
 */
import { Waiters } from "./waiters.js";

const WORKER_FLAG = Symbol.for("taskloom.isWorker");

/** True inside a taskloom worker (thread or process). */
export function isWorker(): boolean {
  return (globalThis as Record<symbol, unknown>)[WORKER_FLAG] === true || process.env.TASKLOOM_WORKER === "1";
}

/** @internal marks this thread as a worker before user modules are imported. */
export function markWorker(): void {
  (globalThis as Record<symbol, unknown>)[WORKER_FLAG] = true;
}

const PARKED = Symbol.for("taskloom.parked");
type Parked = { modules: Set<string>; waiters: Waiters };
const parked = ((globalThis as Record<symbol, Parked | undefined>)[PARKED] ??= {
  modules: new Set<string>(),
  waiters: new Waiters(),
});

/** @internal the module `url` called load() in a worker and is parked there for good. */
export function markParked(url: string | undefined): void {
  if (url === undefined) return;
  parked.modules.add(url);
  parked.waiters.wake(url);
}

/** @internal resolves once module `url` has parked at load(). */
export function whenParked(url: string): Promise<void> {
  return parked.modules.has(url) ? Promise.resolve() : parked.waiters.wait(url);
}
