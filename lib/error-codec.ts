/**
 * Errors cross threads and hosts as plain objects and are revived on the
 * submit side: built-in and taskloom classes as themselves, any other class
 * as an `Error` that keeps its `name`, `message`, `code` and remote `stack`.
 */
import { TaskloomError, errorClasses } from "./errors.js";

/** The wire form of an error. */
export interface ErrorJSON {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
  cause?: ErrorJSON | { value: unknown };
  props?: Record<string, unknown>;
}

const SKIP = new Set(["name", "message", "stack", "code", "cause"]);

/** Turns any thrown value into its wire form. */
export function errorToJSON(e: unknown, depth = 0): ErrorJSON {
  if (!(e instanceof Error)) {
    return { name: "Error", message: `non-error value thrown: ${safeString(e)}`, props: { thrown: plain(e) } };
  }
  const out: ErrorJSON = { name: e.name, message: e.message };
  if (e.stack !== undefined) out.stack = e.stack;
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = plain(code);
  if (e.cause !== undefined && depth < 8) {
    out.cause = e.cause instanceof Error ? errorToJSON(e.cause, depth + 1) : { value: plain(e.cause) };
  }
  let props: Record<string, unknown> | undefined;
  for (const k of Object.keys(e)) {
    if (SKIP.has(k)) continue;
    (props ??= {})[k] = plain((e as unknown as Record<string, unknown>)[k]);
  }
  if (props) out.props = props;
  return out;
}

/** Revives an error from its wire form. */
export function errorFromJSON(j: ErrorJSON): Error {
  const cls = Object.hasOwn(errorClasses, j.name) ? errorClasses[j.name] : undefined;
  const proto = (cls ?? Error).prototype as object;
  const err = Object.create(proto) as Error;
  Object.defineProperty(err, "message", { value: j.message, writable: true, configurable: true });
  if (!cls) Object.defineProperty(err, "name", { value: j.name, writable: true, configurable: true });
  if (j.stack !== undefined)
    Object.defineProperty(err, "stack", { value: j.stack, writable: true, configurable: true });
  if (j.code !== undefined)
    Object.defineProperty(err, "code", { value: j.code, writable: true, enumerable: true, configurable: true });
  if (j.cause !== undefined) {
    const cause = "name" in j.cause ? errorFromJSON(j.cause) : j.cause.value;
    Object.defineProperty(err, "cause", { value: cause, writable: true, configurable: true });
  }
  if (
    cls !== undefined &&
    (cls === TaskloomError || Object.prototype.isPrototypeOf.call(TaskloomError.prototype, proto))
  ) {
    Object.defineProperty(err, Symbol.for("taskloom.error"), { value: j.name });
  }
  if (j.props) Object.assign(err, j.props);
  return err;
}

function safeString(v: unknown): string {
  try {
    return typeof v === "string" ? JSON.stringify(v) : String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

// Keeps only what survives a structured clone or msgpack; anything else becomes its string form.
function plain(v: unknown, depth = 0): unknown {
  if (v === null || v === undefined) return v;
  const t = typeof v;
  if (t === "string" || t === "number" || t === "boolean" || t === "bigint") return v;
  if (depth > 4 || t === "function" || t === "symbol") return safeString(v);
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1));
  if (v instanceof Error) return errorToJSON(v, depth + 1);
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x, depth + 1);
    return o;
  }
  return safeString(v);
}
