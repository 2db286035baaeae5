/**
 * Finding futures in a task's arguments and replacing them by their values.
 * Futures count wherever they appear: top level, inside arrays and plain
 * objects (and so in `inputs`). Other objects (class instances, Maps,
 * Files) are passed through untouched. Containers are copied only when
 * they hold a future, so the caller's objects are never mutated.
 * @module
 */
import { AppFuture, DataFuture, isTaskloomFuture } from "../future.js";

const MAX_DEPTH = 32;

/** Any awaitable: taskloom futures, promises, thenables. */
export type Dependency = PromiseLike<unknown>;

function isThenable(v: object): v is Dependency {
  return typeof (v as { then?: unknown }).then === "function";
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const p: unknown = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** Calls `onDep` for every future in `v`; returns how many it found. */
export function scanDeps(v: unknown, onDep: (d: Dependency) => void, depth = 0): number {
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return 0;
  if (isTaskloomFuture(v) || isThenable(v)) {
    onDep(v);
    return 1;
  }
  let n = 0;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === "object" && x !== null) n += scanDeps(x, onDep, depth + 1);
    }
  } else if (isPlainObject(v)) {
    for (const k in v) {
      const x = v[k];
      if (typeof x === "object" && x !== null) n += scanDeps(x, onDep, depth + 1);
    }
  }
  return n;
}

/** Settled values of foreign promises, recorded as they settle. */
export type ForeignResults = Map<Dependency, { ok: boolean; value: unknown }>;

/** Receives each failed dependency while values are resolved. */
export type OnFailedDep = (dep: Dependency, error: unknown) => void;

/** Returns `v` with every (settled) future replaced by its value. */
export function resolveDeps(v: unknown, foreign: ForeignResults | undefined, onFail: OnFailedDep, depth = 0): unknown {
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return v;
  if (isTaskloomFuture(v)) {
    if (v._ok()) return v._value();
    onFail(v, v._value());
    return undefined;
  }
  if (isThenable(v)) {
    const r = foreign?.get(v);
    if (r?.ok) return r.value;
    onFail(v, r ? r.value : new Error("dependency did not settle"));
    return undefined;
  }
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const r = resolveDeps(x, foreign, onFail, depth + 1);
      if (r !== x) (out ??= v.slice())[i] = r;
    }
    return out ?? v;
  }
  if (isPlainObject(v)) {
    let out: Record<string, unknown> | undefined;
    for (const k in v) {
      const x = v[k];
      const r = resolveDeps(x, foreign, onFail, depth + 1);
      if (r !== x) (out ??= { ...v })[k] = r;
    }
    return out ?? v;
  }
  return v;
}

/** How a failed dependency is named in a DependencyError: its task id, or a description. */
export function describeDependency(d: Dependency): number | string {
  if (d instanceof AppFuture) return d.taskId;
  if (d instanceof DataFuture) return d.taskId;
  return `<${Object.prototype.toString.call(d).slice(8, -1)} dependency>`;
}
