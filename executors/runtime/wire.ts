/**
 * What survives the trip between threads or hosts: Files lose their class in
 * a structured clone, so they are revived on arrival; results that cannot
 * be cloned become a SerializationError for their task alone.
 * @module
 */
import * as v8 from "node:v8";
import { File } from "../../lib/file.js";

const MAX_DEPTH = 32;

/** Returns `v` with File clones turned back into Files (containers copied only if changed). */
export function reviveFiles(v: unknown, depth = 0): unknown {
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return v;
  if (v instanceof File) return v;
  if (File.isFileLike(v)) return File.revive(v);
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== "object" || x === null) continue;
      const r = reviveFiles(x, depth + 1);
      if (r !== x) (out ??= v.slice())[i] = r;
    }
    return out ?? v;
  }
  const p: unknown = Object.getPrototypeOf(v);
  if (p !== Object.prototype && p !== null) return v;
  let out: Record<string, unknown> | undefined;
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x !== "object" || x === null) continue;
    const r = reviveFiles(x, depth + 1);
    if (r !== x) (out ??= { ...o })[k] = r;
  }
  return out ?? v;
}

/** True if `v` is sent as is (no serialization check needed). */
export function isPrimitive(v: unknown): boolean {
  const t = typeof v;
  return v === null || (t !== "object" && t !== "function" && t !== "symbol");
}

/** Why `v` cannot cross to another thread, or undefined if it can. */
export function cloneProblem(v: unknown): string | undefined {
  if (typeof v === "function" || typeof v === "symbol") return `a ${typeof v} cannot be cloned`;
  if (isPrimitive(v)) return undefined;
  try {
    v8.serialize(v);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
