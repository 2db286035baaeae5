/**
 * Finding a task's remote files in its arguments (anywhere in arrays and
 * plain objects, as futures are found) and putting staged copies in their
 * place.
 * @module
 */
import { findCallOptions } from "../call-options.js";
import { File } from "../file.js";

const MAX_DEPTH = 32;
const MADE_BY_TASK = new Set(["outputs", "stdout", "stderr"]);

/** Does any argument hold a remote File (input, output or stream)? Cheap for arguments without objects. */
export function hasRemoteFiles(args: readonly unknown[]): boolean {
  for (const a of args) if (typeof a === "object" && a !== null && anyRemote(a, 0)) return true;
  return false;
}

function anyRemote(v: unknown, depth: number): boolean {
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return false;
  if (v instanceof File) return v.remote;
  if (Array.isArray(v)) return v.some((x) => anyRemote(x, depth + 1));
  if (!isPlain(v)) return false;
  for (const k in v) if (anyRemote((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

/** The remote Files a task reads (not yet staged), by URL; its outputs and stdout/stderr are not among them. */
export function remoteInputs(args: readonly unknown[]): Map<string, File> {
  const into = new Map<string, File>();
  const opts = findCallOptions(args);
  for (const a of args) {
    if (a !== opts) collect(a, into, 0);
    else for (const k in opts) if (!MADE_BY_TASK.has(k)) collect(opts[k], into, 1);
  }
  return into;
}

function collect(v: unknown, into: Map<string, File>, depth: number): void {
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return;
  if (v instanceof File) {
    if (v.remote && v.localPath === undefined) into.set(v.url, v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, into, depth + 1);
  else if (isPlain(v)) for (const k in v) collect((v as Record<string, unknown>)[k], into, depth + 1);
}

/** `v` with each unstaged remote File whose URL is in `local` replaced; containers copied only where changed. */
export function replaceInputs(v: unknown, local: ReadonlyMap<string, unknown>, depth = 0): unknown {
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return v;
  if (v instanceof File) return v.remote && v.localPath === undefined && local.has(v.url) ? local.get(v.url) : v;
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    v.forEach((x: unknown, i) => {
      const r = replaceInputs(x, local, depth + 1);
      if (r !== x) (copy ??= v.slice())[i] = r;
    });
    return copy ?? v;
  }
  if (!isPlain(v)) return v;
  let copy: Record<string, unknown> | undefined;
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const r = replaceInputs(o[k], local, depth + 1);
    if (r !== o[k]) (copy ??= { ...o })[k] = r;
  }
  return copy ?? v;
}

function isPlain(v: object): boolean {
  const p: unknown = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}
