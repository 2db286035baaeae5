/**
 * The trailing call-options object (Parsl's special keyword arguments):
 * recognised when the last argument is a plain object with a reserved key.
 * @module
 */
import type { Resources, ShellSpec } from "../executors/executor.js";
import { describe } from "./app.js";
import { ConfigError } from "./errors.js";
import { File } from "./file.js";
import { isTaskloomFuture } from "./future.js";

const RESERVED = ["inputs", "outputs", "stdout", "stderr", "walltime", "resources", "priority", "tag"] as const;
const RESOURCE_KEYS = ["cores", "memory", "disk", "gpus", "numNodes", "ranksPerNode"] as const;

/** What the kernel takes from a call's options. */
export interface ParsedCallOptions {
  outputs: File[];
  stdout: readonly [string, "a" | "w"] | undefined;
  stderr: readonly [string, "a" | "w"] | undefined;
  walltime: number | undefined;
  resources: Resources | undefined;
  priority: number | undefined;
  tag: string | undefined;
}

/** The call-options object of `args`, if the last argument is one. */
export function findCallOptions(args: readonly unknown[]): Record<string, unknown> | undefined {
  const last = args.length > 0 ? args[args.length - 1] : undefined;
  if (typeof last !== "object" || last === null || Array.isArray(last)) return undefined;
  const p: unknown = Object.getPrototypeOf(last);
  if (p !== Object.prototype && p !== null) return undefined;
  const o = last as Record<string, unknown>;
  for (const k of RESERVED) if (o[k] !== undefined) return o;
  return undefined;
}

/** Validates and normalises call options; throws ConfigError naming the bad one. */
export function parseCallOptions(
  app: string,
  o: Record<string, unknown>,
  defaults: Resources | undefined,
): ParsedCallOptions {
  const where = `${app}(…, { … }): option`;
  const outputs: File[] = [];
  if (o.outputs !== undefined) {
    if (!Array.isArray(o.outputs))
      throw new ConfigError(`${where} outputs: expected an array of File, got ${describe(o.outputs)}`);
    o.outputs.forEach((f: unknown, i) => {
      if (typeof f === "string") outputs.push(new File(f));
      else if (f instanceof File) outputs.push(f);
      else
        throw new ConfigError(
          `${where} outputs[${i}]: expected a File or a path string, got ${isTaskloomFuture(f) ? "a future" : describe(f)}`,
        );
    });
  }
  if (o.inputs !== undefined && !Array.isArray(o.inputs)) {
    throw new ConfigError(`${where} inputs: expected an array, got ${describe(o.inputs)}`);
  }
  const walltime = o.walltime;
  if (walltime !== undefined && !(typeof walltime === "number" && walltime > 0 && Number.isFinite(walltime))) {
    throw new ConfigError(`${where} walltime: expected a number of seconds > 0, got ${describe(walltime)}`);
  }
  const priority = o.priority;
  if (priority !== undefined && !(typeof priority === "number" && Number.isFinite(priority))) {
    throw new ConfigError(`${where} priority: expected a finite number, got ${describe(priority)}`);
  }
  if (o.tag !== undefined && typeof o.tag !== "string") {
    throw new ConfigError(`${where} tag: expected a string, got ${describe(o.tag)}`);
  }
  return {
    outputs,
    stdout: parseStream(where, "stdout", o.stdout),
    stderr: parseStream(where, "stderr", o.stderr),
    walltime: walltime,
    resources: mergeResources(where, defaults, o.resources),
    priority: priority,
    tag: o.tag,
  };
}

function parseStream(where: string, name: string, v: unknown): readonly [string, "a" | "w"] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "string" && v !== "") return [v, "a"];
  // A remote File's URL stands for the local path the worker gives it, and is uploaded after the task.
  if (v instanceof File) return [v.remote ? v.url : v.filepath, "w"];
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && v[0] !== "" && (v[1] === "a" || v[1] === "w")) {
    return [v[0], v[1]];
  }
  throw new ConfigError(`${where} ${name}: expected a path string or [path, "a" | "w"], got ${describe(v)}`);
}

/** App default resources overlaid by the call's, each key checked. */
export function mergeResources(where: string, defaults: Resources | undefined, r: unknown): Resources | undefined {
  if (r === undefined) return defaults;
  if (typeof r !== "object" || r === null || Array.isArray(r)) {
    throw new ConfigError(
      `${where} resources: expected an object with ${RESOURCE_KEYS.join(", ")}, got ${describe(r)}`,
    );
  }
  checkResources(`${where} resources`, r as Record<string, unknown>);
  return defaults ? { ...defaults, ...(r as Resources) } : r;
}

/** Throws ConfigError for unknown keys or values that are not non-negative numbers. */
export function checkResources(where: string, r: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(r)) {
    if (!(RESOURCE_KEYS as readonly string[]).includes(k)) {
      throw new ConfigError(`${where}: unknown key "${k}"; allowed: ${RESOURCE_KEYS.join(", ")}`);
    }
    const intOnly = k === "numNodes" || k === "ranksPerNode" || k === "gpus";
    if (
      v !== undefined &&
      !(typeof v === "number" && v >= 0 && Number.isFinite(v) && (!intOnly || Number.isInteger(v)))
    ) {
      throw new ConfigError(`${where}.${k}: expected ${intOnly ? "an integer" : "a number"} >= 0, got ${describe(v)}`);
    }
  }
}

/** The shell spec a worker applies, from parsed options. */
export function shellSpecOf(p: ParsedCallOptions | undefined): ShellSpec {
  return {
    stdout: p?.stdout,
    stderr: p?.stderr,
    outputs: p ? p.outputs.map((f) => (f.remote ? f.url : f.filepath)) : [],
  };
}
