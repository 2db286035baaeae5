/**
 * Running one task on a worker, whatever the transport: find the app, revive
 * Files, call it (or run its command), and return a compact outcome.
 * @module
 */
import { performance } from "node:perf_hooks";
import type { AppRef, ShellSpec } from "../executor.js";
import { errorToJSON, type ErrorJSON } from "../../lib/error-codec.js";
import { lookupApp } from "../../lib/registry.js";
import { loadApp } from "./load-app.js";
import { runShell } from "./shell.js";
import { reviveFiles } from "./wire.js";

/** A task as it travels to a worker. */
export interface WireTask {
  id: number;
  fn: AppRef;
  args: readonly unknown[];
  walltime: number | undefined;
  shell: ShellSpec | undefined;
}

/** `[true, value, ms]` or `[false, error, ms]`. */
export type Outcome = [ok: boolean, value: unknown, ms: number];

/** Hooks the executor uses to stop a shell task from outside. */
export interface RunHooks {
  onSpawn?(pid: number): void;
  onExit?(): void;
}

/**
 * Runs `t`; a synchronous app whose module is loaded completes without a
 * single await (most of a no-op task's cost otherwise). Never throws.
 */
export function runTask(t: WireTask, hooks?: RunHooks): Outcome | Promise<Outcome> {
  if (t.fn.kind !== "app") return runTaskAsync(t, hooks);
  const fn = lookupApp(t.fn.key);
  if (fn === undefined) return runTaskAsync(t, hooks);
  const start = performance.now();
  try {
    const v = (fn as (...a: unknown[]) => unknown)(...(reviveFiles(t.args) as unknown[]));
    if (typeof (v as { then?: unknown } | null)?.then === "function") {
      return (v as Promise<unknown>).then(
        (x): Outcome => [true, x, performance.now() - start],
        (e: unknown): Outcome => [false, errorToJSON(e), performance.now() - start],
      );
    }
    return [true, v, performance.now() - start];
  } catch (e) {
    return [false, errorToJSON(e), performance.now() - start];
  }
}

async function runTaskAsync(t: WireTask, hooks?: RunHooks): Promise<Outcome> {
  const start = performance.now();
  try {
    const fn = await loadApp(t.fn);
    const args = reviveFiles(t.args) as unknown[];
    let v = fn(...args);
    if (typeof (v as { then?: unknown } | null)?.then === "function") v = await v;
    if (t.fn.kind === "shell") v = await runShell(t.fn.name, v, t.shell, t.walltime, hooks);
    return [true, v, performance.now() - start];
  } catch (e) {
    return [false, errorToJSON(e), performance.now() - start];
  }
}

/** The error of a failed outcome. */
export type { ErrorJSON };
