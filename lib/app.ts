/**
 * Apps: plain functions wrapped so that a call returns a future and runs as
 * a task. `app` runs on a worker, `shellApp` returns a command line that a
 * worker runs with bash, `joinApp` runs in the workflow process and returns
 * futures of other apps.
 *
 * @example
 * ```ts
 * export const add = app((a: number, b: number) => a + b);
 * export const wc = shellApp((opts: { inputs: File[]; stdout: string }) => `wc -l ${opts.inputs[0]}`);
 * export const sum3 = joinApp((a: number) => add(a, add(a, a)));
 * ```
 * @module
 */
import type { Resources } from "../executors/executor.js";
import type { AppFuture } from "./future.js";
import type { File } from "./file.js";
import { ConfigError } from "./errors.js";
import { callerModuleUrl, canonicalModuleUrl, inferBindingName, registerApp } from "./registry.js";
import { isWorker } from "./worker-context.js";
import { submitToCurrentKernel } from "./dataflow/current.js";

/**
 * A value, or a future/promise of it; arrays and plain objects may hold
 * futures of their elements too (three levels deep), as the kernel resolves them.
 */
export type FutureOr<T, D extends number = 4> = [D] extends [never]
  ? T
  : | T
    | PromiseLike<T>
    | (T extends (...a: never[]) => unknown
        ? never
        : T extends File
          ? never
          : T extends object
            ? { [K in keyof T]: FutureOr<T[K], [never, 0, 1, 2, 3][D]> }
            : never);

/** The arguments of an app call: each may be a future of the declared type. */
export type FutureArgs<A extends unknown[]> = { [K in keyof A]: FutureOr<A[K]> };

/** Reserved keys of the trailing call-options object (Parsl's special keyword arguments). */
export interface CallOptions {
  /** Futures and Files this task depends on; resolved and staged before it runs. */
  inputs?: unknown[];
  /** Files the task writes; each becomes a DataFuture in `future.outputs`. */
  outputs?: File[];
  /** Shell apps: file for standard output (appended), or `[path, "w"]` to truncate. */
  stdout?: string | readonly [string, "a" | "w"];
  /** Shell apps: file for standard error (appended), or `[path, "w"]` to truncate. */
  stderr?: string | readonly [string, "a" | "w"];
  /** Seconds the task may run before it is stopped with `AppTimeoutError`. */
  walltime?: number;
  /** Resources this task needs (cores, memory MB, disk MB, GPUs, nodes). */
  resources?: Resources;
  /** Lower runs first where the executor orders tasks. */
  priority?: number;
  /** Free text recorded with the task (monitoring). */
  tag?: string;
}

/** Options of `app`, `shellApp` and `joinApp`. */
export interface AppOptions {
  /** Executor labels this app may run on. @default "all" */
  executors?: "all" | string[];
  /** Memoize results by app and arguments. @default false */
  cache?: boolean;
  /** Argument positions (numbers) or call-option keys (strings) left out of the memo hash. */
  ignoreForCache?: (string | number)[];
  /** Retry budget for this app, overriding `Config.retries`. */
  retries?: number;
  /** Default resources of each call (a call's own `resources` override them key by key). */
  resources?: Resources;
  /** Defining module (`import.meta.url`); found from the call site when omitted. */
  module?: string;
  /** Name of the app; the function's name when omitted. */
  name?: string;
}

/** A wrapped app: call it like the function, get a future. */
export interface AppFunction<A extends unknown[], R> {
  (...args: FutureArgs<A>): AppFuture<R>;
  (...args: [...FutureArgs<A>, CallOptions]): AppFuture<R>;
  /** @internal */
  readonly appDef: AppDef;
}

/** @internal what the kernel knows of an app. */
export interface AppDef {
  readonly kind: "app" | "shell" | "join";
  readonly fn: (...args: unknown[]) => unknown;
  readonly name: string;
  readonly module: string;
  readonly key: string;
  /** Identity in memo hashes: module and display name, so editing a body keeps cached results (as Parsl). */
  readonly memoKey: string;
  readonly executors: "all" | readonly string[];
  readonly cache: boolean;
  readonly ignoreForCache: readonly (string | number)[];
  readonly retries: number | undefined;
  readonly resources: Resources | undefined;
}

type Kind = AppDef["kind"];
type AnyFn = (...args: never[]) => unknown;

const memoNames = new Map<string, number>();

const OPTION_KEYS = new Set(["executors", "cache", "ignoreForCache", "retries", "resources", "module", "name"]);

function makeApp(kind: Kind, fn: AnyFn, opts: AppOptions = {}, label = kindLabel(kind)): AppDef {
  if (typeof fn !== "function") {
    throw new ConfigError(`${label}(fn): expected a function, got ${describe(fn)}`);
  }
  checkOptions(label, opts);
  const found = opts.module ?? callerModuleUrl();
  if (found === undefined) {
    throw new ConfigError(
      `${label}(${opts.name ?? fn.name}): cannot tell which module defines it; pass { module: import.meta.url }`,
    );
  }
  const module = canonicalModuleUrl(found);
  // Keys use only what a worker computes alike: the given or intrinsic name, else an ordinal.
  const key = registerApp(module, opts.name ?? fn.name, fn);
  const name = opts.name || fn.name || (isWorker() ? undefined : inferBindingName()) || "anonymous";
  const seen = memoNames.get(`${module}#${name}`) ?? 0;
  memoNames.set(`${module}#${name}`, seen + 1);
  return {
    kind,
    fn: fn as (...args: unknown[]) => unknown,
    name,
    module,
    key,
    memoKey: seen === 0 ? `${module}#${name}` : `${module}#${name}~${seen}`,
    executors: opts.executors ?? "all",
    cache: opts.cache ?? false,
    ignoreForCache: opts.ignoreForCache ?? [],
    retries: opts.retries,
    resources: opts.resources,
  };
}

function wrap<A extends unknown[], R>(def: AppDef): AppFunction<A, R> {
  const call = function (this: unknown, ...args: unknown[]): AppFuture<R> {
    return submitToCurrentKernel(def, args) as AppFuture<R>;
  };
  Object.defineProperty(call, "name", { value: def.name });
  Object.defineProperty(call, "appDef", { value: def });
  return call as unknown as AppFunction<A, R>;
}

/** A decorator for a static method, as `app(options)` returns. */
export type MethodDecorator<This, A extends unknown[], R> = (
  method: (this: This, ...args: A) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
) => (this: This, ...args: A) => R;

function decorate<This, A extends unknown[], R>(
  kind: Kind,
  method: (this: This, ...args: A) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
  opts: AppOptions,
): (this: This, ...args: A) => R {
  if (context.kind !== "method" || !context.static) {
    throw new ConfigError(`@${kindLabel(kind)} decorates static methods only; ${String(context.name)} is not one`);
  }
  let owner: unknown;
  context.addInitializer(function (this: This) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class of a static method is only known here
    owner = this;
  });
  const bound = function (...args: A): R {
    return method.apply(owner as This, args);
  };
  Object.defineProperty(bound, "name", { value: String(context.name) });
  const def = makeApp(kind, bound, { ...opts, name: opts.name ?? String(context.name) });
  return wrap(def) as unknown as (this: This, ...args: A) => R;
}

function isDecoratorContext(x: unknown): x is ClassMethodDecoratorContext {
  return typeof x === "object" && x !== null && "kind" in x && "addInitializer" in x;
}

/** What a join future resolves to: the value of the returned future, or the values of an array of them. */
export type Joined<R> = R extends readonly (infer E)[] ? Awaited<E>[] : Awaited<R>;

/** `app` / `shellApp` / `joinApp`: wrap a function, decorate a static method, or make a decorator with options. */
export interface AppFactory<Body extends "any" | "command", Result extends "value" | "exit" | "joined"> {
  <A extends unknown[], R extends (Body extends "command" ? string | Promise<string> : unknown)>(
    fn: (...args: A) => R,
    opts?: AppOptions,
  ): AppFunction<A, Result extends "exit" ? number : Result extends "joined" ? Joined<R> : Awaited<R>>;
  <This, A extends unknown[], R>(
    method: (this: This, ...args: A) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
  ): (this: This, ...args: A) => R;
  <This, A extends unknown[], R>(opts: AppOptions): MethodDecorator<This, A, R>;
}

function factory(kind: Kind): (a: unknown, b?: unknown) => unknown {
  return function make(a: unknown, b?: unknown): unknown {
    if (isDecoratorContext(b)) return decorate(kind, a as AnyFn, b as never, {});
    if (typeof a === "function") return wrap(makeApp(kind, a as AnyFn, (b ?? {}) as AppOptions));
    if (typeof a === "object" && a !== null && b === undefined) {
      const opts = a as AppOptions;
      checkOptions(kindLabel(kind), opts);
      return (m: AnyFn, c: ClassMethodDecoratorContext) => decorate(kind, m as never, c as never, opts);
    }
    throw new ConfigError(`${kindLabel(kind)}(fn, options?): expected a function, got ${describe(a)}`);
  };
}

/**
 * Wraps a function as an app that runs on a worker; each call returns an
 * `AppFuture`. Arguments may be futures (also inside arrays and plain
 * objects): the task runs when they are done. Also a decorator for static methods.
 *
 * @example
 * ```ts
 * export const add = app((a: number, b: number) => a + b);
 * const six = add(1, add(2, 3));
 * console.log(await six);
 *
 * class Maths {
 *   @app static async square(x: number): Promise<number> { return x * x; }
 * }
 * ```
 */
export const app = factory("app") as AppFactory<"any", "value">;

/**
 * Wraps a function that returns a bash command line. The command runs with
 * `/bin/bash -c` on the worker; exit 0 resolves to 0, non-zero rejects with
 * `ShellExitError`. Call options `stdout`, `stderr`, `walltime`, `outputs` apply.
 *
 * @example
 * ```ts
 * export const echo = shellApp((msg: string, opts: { stdout: string }) => `echo ${msg}`);
 * await echo("hi", { stdout: "hi.txt" });
 * ```
 */
export const shellApp = factory("shell") as AppFactory<"command", "exit">;

/**
 * Wraps a function that runs in the workflow process, may call other apps,
 * and returns a future or an array of futures; the call's future resolves to
 * their value(s). Failures of inner futures reject with `JoinError`.
 *
 * @example
 * ```ts
 * export const fib = joinApp((n: number): AppFuture<number> | number[] =>
 *   n < 2 ? [] : add(fib(n - 1), fib(n - 2)));
 * ```
 */
export const joinApp = factory("join") as AppFactory<"any", "joined">;

function kindLabel(kind: Kind): string {
  return kind === "app" ? "app" : kind === "shell" ? "shellApp" : "joinApp";
}

function checkOptions(label: string, opts: unknown): asserts opts is AppOptions {
  if (typeof opts !== "object" || opts === null) {
    throw new ConfigError(`${label} options: expected an object, got ${describe(opts)}`);
  }
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_KEYS.has(k)) {
      const hint =
        k === "walltime" ? " (walltime is a call option: pass { walltime } as the last argument of the call)" : "";
      throw new ConfigError(`${label} options: unknown option "${k}"${hint}; allowed: ${[...OPTION_KEYS].join(", ")}`);
    }
  }
  const ex = o.executors;
  if (
    ex !== undefined &&
    ex !== "all" &&
    !(Array.isArray(ex) && ex.length > 0 && ex.every((x) => typeof x === "string"))
  ) {
    throw new ConfigError(
      `${label} options.executors: expected "all" or a non-empty array of labels, got ${describe(ex)}`,
    );
  }
  if (o.cache !== undefined && typeof o.cache !== "boolean") {
    throw new ConfigError(`${label} options.cache: expected a boolean, got ${describe(o.cache)}`);
  }
  const ig = o.ignoreForCache;
  if (
    ig !== undefined &&
    !(Array.isArray(ig) && ig.every((x) => typeof x === "string" || (Number.isInteger(x) && (x as number) >= 0)))
  ) {
    throw new ConfigError(
      `${label} options.ignoreForCache: expected an array of option keys (strings) or argument positions (integers >= 0), got ${describe(ig)}`,
    );
  }
  const r = o.retries;
  if (r !== undefined && !(Number.isInteger(r) && (r as number) >= 0)) {
    throw new ConfigError(`${label} options.retries: expected an integer >= 0, got ${describe(r)}`);
  }
  for (const k of ["module", "name"] as const) {
    if (o[k] !== undefined && (typeof o[k] !== "string" || o[k] === "")) {
      throw new ConfigError(`${label} options.${k}: expected a non-empty string, got ${describe(o[k])}`);
    }
  }
}

/** Formats a value and its type for error messages. */
export function describe(v: unknown): string {
  let s: string;
  if (typeof v === "function") s = `[function ${v.name || "anonymous"}]`;
  else if (typeof v === "bigint") s = `${v}n`;
  else if (typeof v === "symbol") s = v.toString();
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = Object.prototype.toString.call(v);
    }
    if (s.length > 80) s = s.slice(0, 77) + "...";
  }
  const t = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
  return `${s} (${t})`;
}

/** @internal reads the AppDef of a wrapped app, if it is one. */
export function appDefOf(f: unknown): AppDef | undefined {
  return typeof f === "function" ? (f as { appDef?: AppDef }).appDef : undefined;
}
