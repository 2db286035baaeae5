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
import type { StagingPlan } from "../../lib/staging/settings.js";
import { stageTask, type StagedTask } from "../../lib/staging/task-files.js";

/** A task as it travels to a worker. */
export interface WireTask {
  id: number;
  fn: AppRef;
  args: readonly unknown[];
  walltime: number | undefined;
  shell: ShellSpec | undefined;
  /** Set when the task has remote files: staged in before it runs and out after. */
  staging?: StagingPlan | undefined;
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
  if (t.fn.kind !== "app" || t.staging !== undefined) return runTaskAsync(t, hooks);
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
  let staged: StagedTask | undefined;
  try {
    const fn = await loadApp(t.fn);
    let args = reviveFiles(t.args) as unknown[];
    let shell = t.shell;
    if (t.staging !== undefined) {
      staged = await stageTask(t.id, args, shell, t.staging);
      ({ args, shell } = staged);
    }
    let v = fn(...args);
    if (typeof (v as { then?: unknown } | null)?.then === "function") v = await v;
    if (t.fn.kind === "shell") v = await runShell(t.fn.name, v, shell, t.walltime, hooks);
    await staged?.finish(true);
    return [true, v, performance.now() - start];
  } catch (e) {
    await staged?.finish(false).catch(() => undefined);
    return [false, errorToJSON(e), performance.now() - start];
  }
}

/** The error of a failed outcome. */
export type { ErrorJSON };
