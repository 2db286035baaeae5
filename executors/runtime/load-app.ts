/**
 * Finding an app's function on a worker: import its module once (plain
 * `import()`, or tsx's `tsImport` for TypeScript, since Node 20 gives worker
 * threads no loader hooks), then look the app up in the registry its
 * `app()` calls filled. A workflow script that parks at `await load()` is
 * fine: its apps registered before it parked.
 * @module
 */
import type { AppRef } from "../executor.js";
import { AppNotFoundError } from "../../lib/errors.js";
import { lookupApp, whenRegistered } from "../../lib/registry.js";
import { whenParked } from "../../lib/worker-context.js";

type AnyFn = (...args: unknown[]) => unknown;

const imports = new Map<string, Promise<unknown>>();

const TS_EXT = /\.(c|m)?tsx?$/;

async function importModule(url: string): Promise<unknown> {
  if (!TS_EXT.test(new URL(url).pathname)) {
    try {
      return await import(url);
    } catch (e) {
      if ((e as { code?: string }).code !== "ERR_UNKNOWN_FILE_EXTENSION") throw e;
    }
  }
  const { tsImport } = await import("tsx/esm/api");
  return tsImport(url, import.meta.url);
}

/** The function of `ref`, importing its module the first time. */
export async function loadApp(ref: AppRef): Promise<AnyFn> {
  const found = lookupApp(ref.key);
  if (found) return found as AnyFn;
  let p = imports.get(ref.module);
  if (!p) {
    p = importModule(ref.module);
    imports.set(ref.module, p);
  }
  let importError: unknown;
  await Promise.race([
    p.then(
      () => undefined,
      (e: unknown) => {
        importError = e;
      },
    ),
    whenRegistered(ref.key),
    whenParked(ref.module),
  ]);
  const fn = lookupApp(ref.key);
  if (fn) return fn as AnyFn;
  if (importError !== undefined) {
    const msg = importError instanceof Error ? importError.message : JSON.stringify(importError);
    throw new AppNotFoundError(`could not import ${ref.module} to run app ${ref.name}: ${msg}`);
  }
  throw new AppNotFoundError(
    `app ${ref.name} was not found in ${ref.module} when a worker imported it. ` +
      "Define apps at the top level of a module (not inside a function or after `await load()`), " +
      "or pass { module: import.meta.url, name } to app() if the call site is unusual.",
  );
}
