/**
 * Running one task on a worker, whatever the transport: find the app, revive
 * Files, call it (or run its command), and return a compact outcome; with
 * `measure`, what the try used (see measure.ts).
 * @module
 */
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import type { ResourcesMeasured } from "../../lib/monitoring/events.js";
import type { AppRef, ShellSpec } from "../executor.js";
import { errorToJSON, type ErrorJSON } from "../../lib/error-codec.js";
import { lookupApp } from "../../lib/registry.js";
import { loadApp } from "./load-app.js";
import { runShell, type ShellUsage, type ShellWatch } from "./shell.js";
import { breakMeterChain, startMeter, type Meter } from "./measure.js";
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
  /** Measure the try's resources (peak RSS, CPU, wall) and return them. */
  measure?: boolean;
  /** Say which worker ran it even when not measured (monitoring's timeline has a track per worker). */
  name?: boolean;
  /**
   * `resources.memory` (MB): a shell app's process tree is killed past it.
   * A JS app's limit is its executor's business (HTEX: the manager watches the worker).
   */
  memory?: number | undefined;
}

/**
 * `[true, value, ms]` or `[false, error, ms]`; a measured try adds what it
 * used and which worker ran it (`host:pid`, `host:pid/thread` on the thread pool).
 */
export type Outcome = [ok: boolean, value: unknown, ms: number, resources?: ResourcesMeasured, worker?: string];

let scope: "process" | "thread" = "process";
let workerName = `${os.hostname()}:${process.pid}`;

/** The name of a thread-pool worker thread, as its tries report it (`host:pid/threadId`). */
export function threadWorkerName(threadId: number): string {
  return `${os.hostname()}:${process.pid}/${threadId}`;
}

/**
 * Tells the runtime where it runs: a process of its own per task (HTEX
 * workers, the default) or a thread sharing the process (the thread pool),
 * and the worker's name reported with measured tries.
 */
export function setWorkerScope(s: "process" | "thread", name: string): void {
  scope = s;
  workerName = name;
}

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
  let meter: Meter | undefined;
  if (t.measure === true) meter = startMeter(scope);
  else breakMeterChain();
  try {
    const v = (fn as (...a: unknown[]) => unknown)(...(reviveFiles(t.args) as unknown[]));
    if (typeof (v as { then?: unknown } | null)?.then === "function") {
      meter?.awaiting();
      return (v as Promise<unknown>).then(
        (x) => outcome(true, x, start, meter),
        (e: unknown) => outcome(false, errorToJSON(e), start, meter),
      );
    }
    return outcome(true, v, start, meter);
  } catch (e) {
    return outcome(false, errorToJSON(e), start, meter);
  }
}

async function runTaskAsync(t: WireTask, hooks?: RunHooks): Promise<Outcome> {
  const start = performance.now();
  let staged: StagedTask | undefined;
  let meter: Meter | undefined;
  let used: (ShellUsage & { wallMs: number }) | undefined;
  try {
    const fn = await loadApp(t.fn);
    let args = reviveFiles(t.args) as unknown[];
    let shell = t.shell;
    if (t.staging !== undefined) {
      staged = await stageTask(t.id, args, shell, t.staging);
      ({ args, shell } = staged);
    }
    const shellApp = t.fn.kind === "shell";
    // A shell app's body only builds the command line: what counts is the command's tree.
    if (t.measure === true && !shellApp) meter = startMeter(scope);
    const bodyStart = performance.now();
    let v = fn(...args);
    if (typeof (v as { then?: unknown } | null)?.then === "function") {
      meter?.awaiting();
      v = await v;
    }
    if (shellApp) {
      const watch: ShellWatch | undefined =
        t.measure === true || t.memory !== undefined
          ? {
              taskId: t.id,
              memoryMB: t.memory,
              onMeasured: (u) => (used = { ...u, wallMs: performance.now() - bodyStart }),
            }
          : undefined;
      v = await runShell(t.fn.name, v, shell, t.walltime, watch ? { ...hooks, watch } : hooks);
    }
    const done = finishMeasure(t, meter, used);
    await staged?.finish(true);
    return withMeasure([true, v, performance.now() - start], done);
  } catch (e) {
    const done = finishMeasure(t, meter, used);
    await staged?.finish(false).catch(() => undefined);
    return withMeasure([false, errorToJSON(e), performance.now() - start], done);
  }
}

// Measured before staging out, which is the executor's work rather than the app's.
function finishMeasure(
  t: WireTask,
  meter: Meter | undefined,
  used: (ShellUsage & { wallMs: number }) | undefined,
): ResourcesMeasured | undefined {
  if (t.measure !== true) return undefined;
  if (meter !== undefined) return meter.finish();
  // A command that never started (or whose server died) has nothing measured: say nothing rather than zeros.
  if (used === undefined) return undefined;
  return {
    peakRssKiB: used.peakRssKiB,
    cpuUserMs: used.cpuUserMs,
    cpuSystemMs: used.cpuSystemMs,
    wallMs: Math.round(used.wallMs * 1000) / 1000,
    exitStatus: used.exitStatus,
    pid: process.pid,
  };
}

function outcome(ok: boolean, v: unknown, start: number, meter: Meter | undefined): Outcome {
  const ms = performance.now() - start;
  return meter === undefined ? [ok, v, ms] : [ok, v, ms, meter.finish(), workerName];
}

/**
 * `o` with the name of the worker that ran it (kept if a measured try already says).
 *
 * @example
 * ```ts
 * nameOutcome([true, 42, 0.1]); // [true, 42, 0.1, undefined, "node7:4242"]
 * ```
 */
export function nameOutcome(o: Outcome): Outcome {
  if (o.length === 3) o.push(undefined, workerName);
  else o[4] ??= workerName;
  return o;
}

function withMeasure(o: Outcome, r: ResourcesMeasured | undefined): Outcome {
  if (r !== undefined) o.push(r, workerName);
  return o;
}

/** The error of a failed outcome. */
export type { ErrorJSON };
