/**
 * The DataFlowKernel: takes app calls, waits for their dependencies, and
 * hands ready tasks to executors; records outcomes, retries, memoizes and
 * checkpoints. It orchestrates; the pieces live beside it.
 * @module
 */
import type { AppRef, Executor, ExecTask, ResultInfo } from "../../executors/executor.js";
import type { AppDef } from "../app.js";
import { findCallOptions, parseCallOptions, shellSpecOf } from "../call-options.js";
import type { Config } from "../config.js";
import * as path from "node:path";
import { ConfigError, DependencyError, JoinError, StagingError, TaskCancelledError } from "../errors.js";
import { anyRemoteFile, anyTemporaryFile, File } from "../file.js";
import { AppFuture, DataFuture, type FutureHost } from "../future.js";
import { hasRemoteFiles, remoteInputs, replaceInputs } from "../staging/remote-files.js";
import type { StagingPlan } from "../staging/settings.js";
import { stageInApp } from "../staging/stage-in-app.js";
import type { Logger } from "../logging.js";
import { ALL_STATES, FINAL_STATES, type TaskState } from "../states.js";
import type { CheckpointWriter } from "./checkpoint.js";
import { describeDependency, resolveDeps, scanDeps, type Dependency } from "./dependencies.js";
import { memoHash, type MemoTable } from "./memo.js";
import { decideRetry } from "./retries.js";
import { TaskRecord } from "./task-record.js";
import { TemporaryFiles } from "./temporary.js";
import type { Monitor } from "../monitoring/monitor.js";
import type { EventLog } from "../monitoring/event-log.js";

const STAGE_IN = stageInApp.appDef;

/** @internal the parts `load()` assembles. */
export interface KernelParts {
  config: Config;
  runDir: string;
  logger: Logger;
  executors: Executor[];
  memo: MemoTable;
  checkpoint: CheckpointWriter;
  /** Set when monitoring is on. */
  monitor?: Monitor;
}

/**
 * Kernel of a loaded workflow; get it from `load()` or `dfk()`.
 *
 * @example
 * ```ts
 * const dfk = await load();
 * const fs = inputs.map((x) => simulate(x));
 * await dfk.waitForCurrentTasks();
 * console.log(dfk.taskStateCounts());
 * await dfk.cleanup();
 * ```
 */
export class DataFlowKernel implements FutureHost, AsyncDisposable {
  /** This run's directory (`runinfo/NNN`). */
  readonly runDir: string;
  /** Executors by label. */
  readonly executors: ReadonlyMap<string, Executor>;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #memo: MemoTable;
  readonly #checkpoint: CheckpointWriter;
  readonly #all: Executor[];
  readonly #tasks = new Map<number, TaskRecord>();
  readonly #counts: Record<TaskState, number>;
  readonly #refs = new WeakMap<AppDef, AppRef>();
  readonly #retries: number;
  readonly #appCache: boolean;
  #seq = 0;
  #rr = 0;
  #ready: TaskRecord[] = [];
  #draining = false;
  #closing: Promise<void> | undefined;
  /** Set the moment cleanup starts, before its first await. */
  #stopping = false;
  #onCleanup: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  readonly #temporary = new TemporaryFiles();
  readonly #monitor: Monitor | undefined;
  /** The monitor's event log (undefined when monitoring is off: one check on the hot path). */
  readonly #events: EventLog | undefined;
  readonly #measure: boolean;
  /** A clock read that `submit` shares with the task's launch in the same call (0: read the clock). */
  #clock = 0;
  /** Launch times are kept relative to this (small integers: no number boxed per task). */
  readonly #clockBase = Date.now() - 1;
  /** Tells this run's staging-cache checks from earlier runs'. */
  readonly #runId = `${Date.now().toString(36)}-${process.pid}`;

  /** @internal use `load()`. */
  constructor(parts: KernelParts) {
    this.#config = parts.config;
    this.runDir = parts.runDir;
    this.#log = parts.logger;
    this.#memo = parts.memo;
    this.#checkpoint = parts.checkpoint;
    this.#all = parts.executors;
    this.executors = new Map(parts.executors.map((e) => [e.label, e]));
    this.#counts = Object.fromEntries(ALL_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    this.#retries = parts.config.retries ?? 0;
    this.#monitor = parts.monitor;
    this.#events = parts.monitor?.events;
    this.#measure = parts.monitor?.measure ?? false;
    this.#appCache = parts.config.appCache ?? true;
  }

  /** Tasks not yet finished, by id (finished ones are released). */
  get tasks(): ReadonlyMap<number, { readonly id: number; readonly state: TaskState; readonly app: string }> {
    const out = new Map<number, { id: number; state: TaskState; app: string }>();
    for (const [id, r] of this.#tasks) out.set(id, { id, state: r.state, app: r.def.name });
    return out;
  }

  /** How many tasks are (or ended) in each state. */
  taskStateCounts(): Record<TaskState, number> {
    return { ...this.#counts };
  }

  /** @internal state of a live task. */
  stateOf(taskId: number): TaskState {
    return this.#tasks.get(taskId)?.state ?? "failed";
  }

  /** @internal called by app wrappers. */
  submit(def: AppDef, args: unknown[], pin?: { executor: Executor; retries: number }): AppFuture<unknown> {
    const id = ++this.#seq;
    const rec = new TaskRecord(id, def, this.#refOf(def), args);
    const fut = new AppFuture<unknown>(id, this);
    rec.future = fut;
    if (pin !== undefined) Object.assign(rec.x(), { pinned: pin.executor, retries: pin.retries });
    rec.measure = this.#measure;
    this.#counts.pending++;
    this.#tasks.set(id, rec);
    if (this.#stopping) {
      this.#finish(rec, "failed", false, new ConfigError(`app ${def.name} was called after cleanup() began`));
      return fut;
    }
    const opts = findCallOptions(args);
    if (opts !== undefined) this.#applyCallOptions(rec, opts);
    if (anyTemporaryFile()) {
      const release = this.#temporary.hold(
        args,
        rec.future.outputs.map((d) => d.file),
      );
      if (release) rec.x().release = release;
    }
    if (this.#log.debugEnabled) this.#log.debug("task submitted", { task: id, app: def.name });
    const ev = this.#events;
    let depends: number[] | undefined;
    scanDeps(args, (d) => {
      if (ev !== undefined && (d instanceof AppFuture || d instanceof DataFuture)) (depends ??= []).push(d.taskId);
      this.#watch(rec, d);
    });
    let now = 0;
    if (ev !== undefined) {
      // the task row implies its "pending" status (EventLog.task)
      ev.task(id, def.name, (now = Date.now()), def.cache);
      const res = rec.resources as Record<string, number> | undefined;
      if (depends !== undefined || res !== undefined) {
        ev.taskExtra({
          t: "task+",
          task: id,
          ...(depends !== undefined ? { depends } : {}),
          ...(res ? { resources: res } : {}),
        });
      }
    }
    if (--rec.depsLeft === 0) {
      // launched in this same call: one clock read dates both
      this.#clock = now;
      this.#enqueue(rec);
      this.#clock = 0;
    }
    return fut;
  }

  #refOf(def: AppDef): AppRef {
    let ref = this.#refs.get(def);
    if (ref === undefined) {
      ref = { kind: def.kind === "shell" ? "shell" : "app", module: def.module, key: def.key, name: def.name };
      this.#refs.set(def, ref);
    }
    return ref;
  }

  #applyCallOptions(rec: TaskRecord, opts: Record<string, unknown>): void {
    try {
      const p = parseCallOptions(rec.def.name, opts, rec.def.resources);
      rec.opts = {
        walltime: p.walltime,
        resources: p.resources,
        priority: p.priority,
        tag: p.tag,
        shell: rec.def.kind === "shell" ? shellSpecOf(p) : undefined,
      };
      // A stream given as a File is a DataFuture, as Parsl's: done when the task (and its upload) is.
      rec.future.stdout = opts.stdout instanceof File ? new DataFuture(rec.future, opts.stdout) : p.stdout?.[0];
      rec.future.stderr = opts.stderr instanceof File ? new DataFuture(rec.future, opts.stderr) : p.stderr?.[0];
      rec.future.outputs = p.outputs.map((f) => new DataFuture(rec.future, f));
    } catch (e) {
      rec.x().invalid = e as Error;
    }
  }

  #watch(rec: TaskRecord, d: Dependency): void {
    rec.depsLeft++;
    rec.hasDeps = true;

    if (d instanceof AppFuture || d instanceof DataFuture) {
      d._onSettled(() => {
        if (--rec.depsLeft === 0) this.#enqueue(rec);
      });
      return;
    }
    const done = (ok: boolean, value: unknown): void => {
      (rec.x().foreign ??= new Map()).set(d, { ok, value });
      if (--rec.depsLeft === 0) this.#enqueue(rec);
    };
    d.then(
      (v) => done(true, v),
      (e: unknown) => done(false, e),
    );
  }

  // A trampoline: tasks made ready while launching are launched by the same loop, so long chains never grow the stack.
  #enqueue(rec: TaskRecord): void {
    this.#ready.push(rec);
    if (this.#draining) return;
    this.#draining = true;
    const q = this.#ready;
    for (let i = 0; i < q.length; i++) {
      const r = q[i]!;
      try {
        this.#launch(r);
      } catch (e) {
        this.#finish(r, "failed", false, e);
      }
    }
    q.length = 0;
    this.#draining = false;
  }

  #launch(rec: TaskRecord): void {
    if (rec.state !== "pending") return;
    const extra = rec.extra;
    if (extra?.invalid) return this.#finish(rec, "failed", false, extra.invalid);
    if (rec.hasDeps) {
      let failed: (number | string)[] | undefined;
      let errors: unknown[] | undefined;
      rec.args = resolveDeps(rec.args, extra?.foreign, (d, err) => {
        (failed ??= []).push(describeDependency(d));
        (errors ??= []).push(err);
      }) as unknown[];
      if (extra) extra.foreign = undefined;
      rec.hasDeps = false;
      if (failed && errors) {
        // A separate staging task's failure is this task's own StagingError (already retried with its budget).
        const staging = errors.find((e) => e instanceof StagingError);
        if (extra?.stagers && staging !== undefined) return this.#finish(rec, "failed", false, staging);
        const root =
          errors[0] instanceof DependencyError || errors[0] instanceof JoinError
            ? (errors[0] as Error).cause
            : errors[0];
        return this.#finish(rec, "dep_fail", false, new DependencyError(rec.id, failed, errors, root));
      }
    }
    if (rec.def.cache && this.#appCache) {
      const x = rec.x();
      x.hash ??= memoHash(rec.def.memoKey, rec.args, rec.def.ignoreForCache);
      const hit = this.#memo.get(x.hash);
      if (hit) return this.#finish(rec, hit.ok ? "memo_done" : "failed", hit.ok, hit.value);
    }
    if (rec.def.kind === "join") return this.#runJoin(rec);
    const ex = extra?.pinned ?? this.#pickExecutor(rec);
    if (rec.resources) ex.validateResources(rec.resources);
    if (anyRemoteFile() && hasRemoteFiles(rec.args) && this.#planStaging(rec, ex)) return;
    rec.executor = ex;
    this.#setState(rec, "launched");
    ex.submit(rec);
  }

  // Gives a task with remote files its staging plan; in separate-task mode first submits a staging task per remote
  // input, pinned to `ex`, and returns true: the task waits for them and launches (on `ex`) with their copies.
  #planStaging(rec: TaskRecord, ex: Executor): boolean {
    const mode = ex.staging?.mode ?? "in-task";
    const plan: StagingPlan = {
      dir: ex.staging?.dir ?? (mode === "separate-task" ? path.join(this.runDir, "staging") : undefined),
      run: this.#runId,
    };
    const x = rec.x();
    x.staging = plan;
    if (mode === "in-task") return false;
    const inputs = remoteInputs(rec.args);
    if (inputs.size === 0) return false;
    const budget = x.retries ?? rec.def.retries ?? this.#retries;
    const stagers = new Map<string, AppFuture<unknown>>();
    for (const [url, f] of inputs) {
      stagers.set(url, this.submit(STAGE_IN, [f.toJSON(), plan], { executor: ex, retries: budget }));
    }
    x.pinned = ex;
    x.stagers = new Set(stagers.values());
    rec.args = replaceInputs(rec.args, stagers) as unknown[];
    rec.hasDeps = true;
    rec.depsLeft = 1;
    for (const d of stagers.values()) this.#watch(rec, d);
    if (--rec.depsLeft === 0) this.#enqueue(rec);
    return true;
  }

  #pickExecutor(rec: TaskRecord): Executor {
    const want = rec.def.executors;
    if (want === "all") return this.#all.length === 1 ? this.#all[0]! : this.#all[this.#rr++ % this.#all.length]!;
    const ok = want.map((l) => this.executors.get(l)).filter((e): e is Executor => e !== undefined);
    if (ok.length === 0) {
      throw new ConfigError(
        `app ${rec.def.name} asks for executors ${JSON.stringify(want)}, but the config has ${JSON.stringify([...this.executors.keys()])}`,
      );
    }
    return ok[this.#rr++ % ok.length]!;
  }

  /** @internal executors report here. */
  readonly onResult = (task: ExecTask, ok: boolean, value: unknown, info?: ResultInfo): void => {
    const rec = task as TaskRecord;
    if (FINAL_STATES.has(rec.state)) return;
    if (info?.resources !== undefined) rec.future.resourcesMeasured = info.resources;
    if (this.#events === undefined) return ok ? this.#succeed(rec, value) : this.#fail(rec, value);
    const r = this.#result;
    if (r.rec !== undefined) this.#recordTry(undefined);
    r.rec = rec;
    r.ok = ok;
    r.value = value;
    r.info = info;
    r.tryNo = rec.extra?.failCount ?? 0;
    try {
      if (ok) this.#succeed(rec, value);
      else this.#fail(rec, value);
    } finally {
      if (r.rec === rec) this.#recordTry(undefined);
    }
  };

  /**
   * The try whose result is being handled. Its row waits for the task's next state (set in the same call): a final
   * one rides on the row (EventLog.try), saving a status row and a clock read per task.
   */
  readonly #result = {
    rec: undefined as TaskRecord | undefined,
    ok: false,
    value: undefined as unknown,
    info: undefined as ResultInfo | undefined,
    tryNo: 0,
  };

  /** Records the pending try (see #result), ending in `final` if given. */
  #recordTry(final: TaskState | undefined): void {
    const r = this.#result;
    const { ok, value, info, tryNo } = r;
    const rec = r.rec!;
    r.rec = r.value = r.info = undefined;
    const ev = this.#events!;
    const now = info?.at ?? Date.now();
    const launched = rec.launchedAt === 0 ? now : rec.launchedAt + this.#clockBase;
    // The worker's own run time dates its start (to the clock's ms; the result's trip back is not subtracted).
    const running = info?.runMs === undefined ? undefined : Math.max(launched, Math.round(now - info.runMs));
    ev.try(rec.id, tryNo, rec.executor?.label ?? "", launched, now, ok, info?.worker, running, final);
    if (!ok || info?.resources !== undefined) {
      const e = value as { name?: unknown; message?: unknown; stack?: unknown } | null;
      const error = ok
        ? undefined
        : {
            name: typeof e?.name === "string" ? e.name : "Error",
            message: typeof e?.message === "string" ? e.message : String(value),
            ...(typeof e?.stack === "string" ? { stack: e.stack } : {}),
          };
      ev.other({
        t: "try+",
        task: rec.id,
        try: tryNo,
        ...(error ? { error } : {}),
        ...(info?.resources ? { resources: info.resources } : {}),
      });
    }
  }

  #succeed(rec: TaskRecord, value: unknown): void {
    const hash = rec.extra?.hash;
    if (hash !== undefined) {
      this.#memo.set(hash, true, value);
      this.#checkpoint.record(hash, value);
    }
    this.#finish(rec, "exec_done", true, value);
  }

  #fail(rec: TaskRecord, error: unknown): void {
    const d = decideRetry(
      rec,
      error,
      rec.extra?.retries ?? rec.def.retries ?? this.#retries,
      this.#config.retryHandler,
    );
    if (d.retry && !this.#stopping) {
      if (this.#log.debugEnabled) this.#log.debug("task retry", { task: rec.id, failCount: rec.extra?.failCount });
      this.#setState(rec, "pending");
      this.#enqueue(rec);
      return;
    }
    const hash = rec.extra?.hash;
    if (hash !== undefined) this.#memo.set(hash, false, d.error);
    // decideRetry counted this failure: the try that failed is the one before the count
    const tryNo = Math.max(0, (rec.extra?.failCount ?? 1) - 1);
    this.#finish(rec, d.error instanceof TaskCancelledError ? "cancelled" : "failed", false, d.error, tryNo);
  }

  #runJoin(rec: TaskRecord): void {
    this.#setState(rec, "launched");
    // Run the body off the launch loop, and never through Promise.then, which would adopt a returned future.
    queueMicrotask(() => {
      let out: unknown;
      try {
        out = rec.def.fn(...rec.args);
      } catch (e) {
        return this.#fail(rec, e);
      }
      if (out instanceof Promise) {
        out.then(
          (v: unknown) => this.#join(rec, v, true),
          (e: unknown) => this.#fail(rec, e),
        );
      } else this.#join(rec, out, false);
    });
  }

  // `adopted`: an async body's single returned future was already awaited by JavaScript itself.
  #join(rec: TaskRecord, out: unknown, adopted: boolean): void {
    if (FINAL_STATES.has(rec.state)) return;
    const isDep = (x: unknown): x is Dependency => typeof (x as { then?: unknown } | null)?.then === "function";
    const many = Array.isArray(out);
    if (adopted && !many && !isDep(out)) return this.#succeed(rec, out);
    const inner: unknown[] = many ? out : [out];
    const bad = inner.findIndex((x) => !isDep(x));
    if (bad >= 0) {
      const what = many ? `an array whose element ${bad} is ${String(inner[bad])}` : String(out);
      return this.#fail(
        rec,
        new TypeError(`join app ${rec.def.name} must return a future or an array of futures; it returned ${what}`),
      );
    }
    this.#setState(rec, "joining");
    const deps = inner as Dependency[];
    let left = deps.length;
    const results = new Array<{ ok: boolean; value: unknown }>(deps.length);
    const finish = (): void => {
      if (FINAL_STATES.has(rec.state)) return;
      const failedAt = results.flatMap((r, i) => (r.ok ? [] : [i]));
      if (failedAt.length > 0) {
        const ids = failedAt.map((i) => describeDependency(deps[i]!));
        return this.#fail(
          rec,
          new JoinError(
            rec.id,
            ids,
            failedAt.map((i) => results[i]!.value),
          ),
        );
      }
      const values = results.map((r) => r.value);
      this.#succeed(rec, many ? values : values[0]);
    };
    if (left === 0) return finish();
    deps.forEach((d, i) => {
      const settle = (ok: boolean, value: unknown): void => {
        results[i] = { ok, value };
        if (--left === 0) finish();
      };
      if (d instanceof AppFuture || d instanceof DataFuture) d._onSettled(() => settle(d._ok(), d._value()));
      else
        d.then(
          (v) => settle(true, v),
          (e: unknown) => settle(false, e),
        );
    });
  }

  /** `tryNo`: the try the change belongs to, by default the current one (retries so far). */
  #setState(rec: TaskRecord, s: TaskState, tryNo?: number): void {
    this.#counts[rec.state]--;
    this.#counts[s]++;
    rec.state = s;
    const ev = this.#events;
    if (ev !== undefined) {
      if (this.#result.rec === rec) {
        // the state its try's result led to: a final one is written with the try
        if (FINAL_STATES.has(s)) return this.#recordTry(s);
        this.#recordTry(undefined);
      }
      const now = this.#clock || Date.now();
      if (s === "launched") rec.launchedAt = now - this.#clockBase;
      ev.status(rec.id, tryNo ?? rec.extra?.failCount ?? 0, s, now, rec.executor?.label);
    }
  }

  #finish(rec: TaskRecord, s: TaskState, ok: boolean, value: unknown, tryNo?: number): void {
    this.#setState(rec, s, tryNo);
    this.#tasks.delete(rec.id);
    rec.extra?.release?.();
    if (this.#log.debugEnabled) this.#log.debug("task done", { task: rec.id, app: rec.def.name, state: s });
    rec.future._finish(s, ok, value);
    if (this.#tasks.size === 0 && this.#idleWaiters.length > 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  /**
   * Cancels a task: one that has not started never runs, a running one is
   * stopped where its executor can. Returns false if it had already finished.
   */
  cancel(taskId: number): boolean {
    const rec = this.#tasks.get(taskId);
    if (rec === undefined) return false;
    const err = new TaskCancelledError(taskId);
    if (rec.state === "launched" || rec.state === "running") rec.executor?.cancel(taskId, err);
    this.#finish(rec, "cancelled", false, err);
    return true;
  }

  /** Resolves when every task submitted so far (and any they start) has finished. */
  waitForCurrentTasks(): Promise<void> {
    if (this.#tasks.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Writes buffered checkpoint records now (for `checkpointMode: "manual"`); returns how many. */
  checkpoint(): number {
    return this.#checkpoint.checkpoint();
  }

  /** @internal run at cleanup (signal handlers, the global kernel). */
  _atCleanup(fn: () => void): void {
    this.#onCleanup.push(fn);
  }

  /**
   * Shuts the kernel down: tasks not finished are cancelled (their futures
   * reject with TaskCancelledError), executors stop, checkpoints are written.
   * Calling it again returns the same promise.
   */
  cleanup(): Promise<void> {
    if (this.#closing === undefined) {
      this.#stopping = true;
      this.#closing = this.#cleanup();
    }
    return this.#closing;
  }

  async #cleanup(): Promise<void> {
    const cancelAll = (): void => {
      // Newest first: a dependant is cancelled itself rather than failed by its cancelled dependency.
      for (const rec of [...this.#tasks.values()].reverse()) {
        const why =
          "the kernel was cleaned up before the task finished (await futures or call waitForCurrentTasks() first)";
        this.#finish(rec, "cancelled", false, new TaskCancelledError(rec.id, why));
      }
    };
    // Futures settle first (no result can be lost to a half-closed executor), then executors stop their work.
    cancelAll();
    const stop = new TaskCancelledError(0, "executor shut down");
    await Promise.all(
      this.#all.map((e) =>
        e.shutdown(stop).catch((e: unknown) => this.#log.error("executor shutdown failed", { error: String(e) })),
      ),
    );
    cancelAll();
    this.#temporary.deleteRest();
    await this.#monitor?.close(this.#counts, (error) => this.#log.error("monitoring store lost events", { error }));
    this.#checkpoint.close();
    const summary = Object.entries(this.#counts).filter(([, n]) => n > 0);
    this.#log.info("Summary of tasks in DFK", Object.fromEntries(summary));
    this.#log.close();
    for (const fn of this.#onCleanup.splice(0)) fn();
  }

  /** `await using dfk = await load()` cleans up (or waits first, with `exitMode: "wait"`). */
  async [Symbol.asyncDispose](): Promise<void> {
    const mode = this.#config.exitMode ?? "cleanup";
    if (mode === "skip") return;
    if (mode === "wait") await this.waitForCurrentTasks();
    await this.cleanup();
  }
}
