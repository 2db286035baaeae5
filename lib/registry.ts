/**
 * The app registry: every `app()` call records its function under a key made
 * of the defining module's URL, the function's name and an ordinal. A worker
 * imports the module; its `app()` calls fill the worker's registry with the
 * same keys, so apps are found whether or not they are exported. The
 * registry lives on `globalThis` so two copies of taskloom share it.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Waiters } from "./waiters.js";

type AnyFn = (...args: never[]) => unknown;

interface Registry {
  fns: Map<string, AnyFn>;
  counts: Map<string, number>;
  waiters: Waiters;
}

const KEY = Symbol.for("taskloom.registry");
const g = globalThis as Record<symbol, Registry | undefined>;
const registry: Registry = (g[KEY] ??= { fns: new Map(), counts: new Map(), waiters: new Waiters() });

/** Registers `fn` under `moduleUrl#name`, with `~N` for the N-th repeat; returns the key. */
export function registerApp(moduleUrl: string, name: string, fn: AnyFn): string {
  const base = `${moduleUrl}#${name}`;
  const n = registry.counts.get(base) ?? 0;
  registry.counts.set(base, n + 1);
  const key = n === 0 ? base : `${base}~${n}`;
  registry.fns.set(key, fn);
  registry.waiters.wake(key);
  return key;
}

/** The function registered under `key`, if any. */
export function lookupApp(key: string): AnyFn | undefined {
  return registry.fns.get(key);
}

/** Resolves when `key` is registered (at once if it already is). */
export function whenRegistered(key: string): Promise<void> {
  return registry.fns.has(key) ? Promise.resolve() : registry.waiters.wait(key);
}

/**
 * The canonical `file:` URL of a module, whatever form the stack or loader
 * gave it: plain paths, `file:` URLs with tsx's `?tsx-namespace=` query, and
 * tsx's `data:` URLs for modules it compiled to CommonJS.
 */
export function canonicalModuleUrl(loc: string): string {
  if (loc.startsWith("data:")) {
    const m = /[?&]filePath=([^&:]+)/.exec(loc);
    if (m) loc = decodeURIComponent(m[1]!);
  }
  if (loc.startsWith("file:")) {
    const q = loc.search(/[?#]/);
    if (q >= 0) loc = loc.slice(0, q);
    return pathToFileURL(fileURLToPath(loc)).href;
  }
  const q = loc.search(/[?#]/);
  if (q >= 0) loc = loc.slice(0, q);
  return pathToFileURL(loc).href;
}

// taskloom's own frames: the compiled lib/ and, where source maps apply, the lib/ it was built from.
const OWN_DIR = new URL("./", import.meta.url).href;
const OWN_DIRS = OWN_DIR.endsWith("/dist/lib/") ? [OWN_DIR, OWN_DIR.replace(/\/dist\/lib\/$/, "/lib/")] : [OWN_DIR];
const isOwn = (url: string): boolean => OWN_DIRS.some((d) => url.startsWith(d));

/** The module that called into taskloom: the first stack frame outside this package's lib folder. */
export function callerModuleUrl(): string | undefined {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- saved to be restored as is
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let sites: NodeJS.CallSite[];
  try {
    Error.prepareStackTrace = (_e, s) => s;
    Error.stackTraceLimit = 16;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, callerModuleUrl);
    sites = holder.stack as NodeJS.CallSite[];
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  for (const s of sites) {
    const f = s.getFileName() ?? s.getScriptNameOrSourceURL();
    if (!f || f.startsWith("node:") || f.startsWith("internal/")) continue;
    const url = canonicalModuleUrl(f);
    if (isOwn(url)) continue;
    return url;
  }
  return undefined;
}

const sourceLines = new Map<string, string[] | null>();
const BINDING =
  /(?:const|let|var)\s+([A-Za-z_$][\w$]*)\b.*?=\s*(?:[\w$]+\.)?(?:app|shellApp|joinApp)\s*(?:<.*?>)?\(|([A-Za-z_$][\w$]*)\s*[:=]\s*(?:[\w$]+\.)?(?:app|shellApp|joinApp)\s*(?:<.*?>)?\(/;

/**
 * The name an anonymous app is bound to at its call site (`export const add = app(...)`
 * → `add`), read from the source line the (source-mapped) stack points at.
 * Only a display name: registry keys never depend on it.
 */
export function inferBindingName(): string | undefined {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 16;
  Error.captureStackTrace(holder, inferBindingName);
  Error.stackTraceLimit = limit;
  for (const line of (holder.stack ?? "").split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):\d+\)?\s*$/.exec(line);
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith("file:")) file = fileURLToPath(canonicalModuleUrl(file));
    if (isOwn(pathToFileURL(file).href)) continue;
    let lines = sourceLines.get(file);
    if (lines === undefined) {
      try {
        lines = readFileSync(file, "utf8").split("\n");
      } catch {
        lines = null;
      }
      sourceLines.set(file, lines);
    }
    const text = lines?.[Number(m[2]) - 1];
    const b = text === undefined ? null : BINDING.exec(text);
    return b ? (b[1] ?? b[2]) : undefined;
  }
  return undefined;
}
