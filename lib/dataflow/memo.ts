/**
 * Memoization: a stable hash of an app's identity and its arguments, and the
 * table of outcomes by hash. The encoding is canonical (type-tagged, key
 * order of plain objects ignored), so equal arguments hash alike in every run.
 *
 * @example
 * ```ts
 * memoHash("file:///flow.ts#add", [1, 2], []) === memoHash("file:///flow.ts#add", [1, 2], []); // true
 * ```
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { SerializationError } from "../errors.js";
import { File } from "../file.js";

/** The kinds of value `cache: true` apps may take as arguments. */
export const HASHABLE_TYPES = [
  "string",
  "number",
  "bigint",
  "boolean",
  "null",
  "undefined",
  "Array",
  "plain object",
  "Date",
  "Map",
  "Set",
  "typed arrays and Buffer",
  "RegExp",
  "File",
] as const;

/** Hex hash of `appKey` and `args`, leaving out `ignoreForCache` (positions, or call-option keys). */
export function memoHash(
  appKey: string,
  args: readonly unknown[],
  ignoreForCache: readonly (string | number)[],
): string {
  const h = createHash("sha256");
  h.update(appKey);
  h.update("\0");
  const last = args.length > 0 ? args[args.length - 1] : undefined;
  const optsIndex = isPlain(last) ? args.length - 1 : -1;
  const seen = new Set<object>();
  for (let i = 0; i < args.length; i++) {
    if (ignoreForCache.includes(i)) {
      h.update("i;");
      continue;
    }
    if (i === optsIndex && ignoreForCache.some((k) => typeof k === "string")) {
      const o = last as Record<string, unknown>;
      const kept: Record<string, unknown> = {};
      for (const k of Object.keys(o)) if (!ignoreForCache.includes(k)) kept[k] = o[k];
      encode(h, kept, `argument ${i}`, seen);
    } else encode(h, args[i], `argument ${i}`, seen);
  }
  return h.digest("hex");
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const p: unknown = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

// Each value is written as a tag and a length-prefixed body, so no two different values share bytes.
function encode(h: Hash, v: unknown, where: string, seen: Set<object>): void {
  switch (typeof v) {
    case "string":
      h.update(`s${v.length}:`);
      h.update(v);
      return;
    case "number":
      h.update(`n${Object.is(v, -0) ? "-0" : String(v)};`);
      return;
    case "bigint":
      h.update(`b${v.toString()};`);
      return;
    case "boolean":
      h.update(v ? "T;" : "F;");
      return;
    case "undefined":
      h.update("u;");
      return;
    case "object":
      break;
    default:
      throw unhashable(where, typeof v);
  }
  if (v === null) {
    h.update("z;");
    return;
  }
  if (seen.has(v)) throw new SerializationError(`cannot hash ${where} for memoization: it contains a cycle`);
  seen.add(v);
  try {
    encodeObject(h, v, where, seen);
  } finally {
    seen.delete(v);
  }
}

function encodeObject(h: Hash, v: object, where: string, seen: Set<object>): void {
  if (Array.isArray(v)) {
    h.update(`a${v.length}[`);
    for (let i = 0; i < v.length; i++) encode(h, v[i], `${where}[${i}]`, seen);
    h.update("]");
  } else if (isPlain(v)) {
    const keys = Object.keys(v).sort();
    h.update(`o${keys.length}{`);
    for (const k of keys) {
      encode(h, k, where, seen);
      encode(h, v[k], `${where}.${k}`, seen);
    }
    h.update("}");
  } else if (v instanceof File || File.isFileLike(v)) {
    h.update(`f${v.url.length}:`);
    h.update(v.url);
  } else if (v instanceof Date) {
    h.update(`d${v.getTime()};`);
  } else if (v instanceof RegExp) {
    h.update(`r${v.source.length}:${v.source}/${v.flags};`);
  } else if (ArrayBuffer.isView(v)) {
    h.update(`t${v.constructor.name}:${v.byteLength}:`);
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } else if (v instanceof Map) {
    h.update(`m${v.size}{`);
    for (const [k, x] of sortedEntries([...v.entries()], where, seen)) {
      h.update(k);
      encode(h, x, `${where}.get(${k.slice(0, 20)})`, seen);
    }
    h.update("}");
  } else if (v instanceof Set) {
    h.update(`S${v.size}{`);
    for (const [k] of sortedEntries(
      [...v].map((x) => [x, undefined] as [unknown, unknown]),
      where,
      seen,
    ))
      h.update(k);
    h.update("}");
  } else {
    throw unhashable(where, (v as { constructor?: { name?: string } }).constructor?.name || "object without prototype");
  }
}

// Map keys and Set members are ordered by their own encoding, so insertion order does not matter.
function sortedEntries(entries: [unknown, unknown][], where: string, seen: Set<object>): [string, unknown][] {
  const out = entries.map(([k, x]): [string, unknown] => {
    const sub = createHash("sha256");
    encode(sub, k, `${where} (key)`, seen);
    return [sub.digest("hex"), x];
  });
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function unhashable(where: string, type: string): SerializationError {
  return new SerializationError(
    `cannot hash ${where} for memoization: a ${type} has no stable identity; ` +
      `hashable: ${HASHABLE_TYPES.join(", ")} (or leave it out with ignoreForCache)`,
  );
}

/** Outcomes by hash: successes and failures within a run, successes loaded from checkpoints. */
export class MemoTable {
  readonly #entries = new Map<string, { ok: boolean; value: unknown }>();

  get(hash: string): { ok: boolean; value: unknown } | undefined {
    return this.#entries.get(hash);
  }

  set(hash: string, ok: boolean, value: unknown): void {
    this.#entries.set(hash, { ok, value });
  }

  preload(entries: ReadonlyMap<string, unknown>): void {
    for (const [hash, value] of entries) this.#entries.set(hash, { ok: true, value });
  }

  get size(): number {
    return this.#entries.size;
  }
}
