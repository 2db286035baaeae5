/**
 * ThreadPoolExecutor: runs apps on Piscina worker threads in this process.
 *
 * Small tasks are sent in batches (one message carries many), because one
 * message per task caps a thread pool near 30k tasks/s; a task joins a batch
 * only when its app has been seen to run in under 0.2 ms and it has no
 * walltime, so long tasks still spread over all threads one at a time.
 * A running task is stopped (walltime, cancel) by terminating its thread,
 * which Piscina replaces.
 *
 * @example
 * ```ts
 * await load({ executors: [new ThreadPoolExecutor({ label: "local", maxThreads: 4 })] });
 * ```
 * @module
 */
import * as os from "node:os";
import * as v8 from "node:v8";
import { Piscina } from "piscina";
import type { ExecTask, Executor, ExecutorContext, Resources, ResultInfo } from "../executor.js";
import { errorFromJSON, type ErrorJSON } from "../../lib/error-codec.js";
import { describe } from "../../lib/app.js";
import { AppTimeoutError, ConfigError, SerializationError, WorkerLostError } from "../../lib/errors.js";
import { killProcessGroup } from "../runtime/shell.js";
import { reviveFiles, isPrimitive } from "../runtime/wire.js";
import { threadWorkerName, type Outcome, type WireTask } from "../runtime/run-task.js";
import { at, createControl, INDEX, MAX_BATCH, PID, resetSlot, STARTED, THREAD, type Control } from "./control.js";
import type { BatchMessage, BatchReply } from "./worker.js";
import { checkStagingOptions, type StagingOptions, type StagingSettings } from "../../lib/staging/settings.js";

/** Options of {@link ThreadPoolExecutor}. */
export interface ThreadPoolOptions {
  /** Label apps select it by. @default "threads" */
  label?: string;
  /** Worker threads. @default the machine's available parallelism */
  maxThreads?: number;
  /** Where and how remote files are staged. @default { mode: "in-task" } */
  staging?: StagingOptions;
}

interface Batch {
  readonly slot: number;
  readonly tasks: ExecTask[];
  killed?: { index: number; error: Error };
  timer?: NodeJS.Timeout;
  done: boolean;
}

// Apps whose mean run time is below this are batched.
const BATCH_BELOW_MS = 0.2;

/**
 * Runs tasks on worker threads of this process. A JS app's `resources.memory` limit is not enforced here (threads
 * share the workflow's process and cannot be stopped alone); shell apps' limits are, on their process trees. Use
 * HighThroughputExecutor for JS apps that need a memory limit.
 */
export class ThreadPoolExecutor implements Executor {
  readonly label: string;
  readonly maxThreads: number;
  readonly staging: StagingSettings;
  #ctx: ExecutorContext | undefined;
  #pool: Piscina | undefined;
  #control: Control;
  readonly #free: number[] = [];
  #queue: ExecTask[] = [];
  #head = 0;
  #front: ExecTask[] = [];
  readonly #where = new Map<number, Batch>();
  readonly #skip = new Set<number>();
  readonly #solo = new Set<number>();
  readonly #ewma = new Map<string, number>();
  #outstanding = 0;
  #scheduled = false;
  #closed = false;

  constructor(options: ThreadPoolOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new ConfigError(`ThreadPoolExecutor(options): expected an object, got ${describe(options)}`);
    }
    for (const k of Object.keys(options)) {
      if (k !== "label" && k !== "maxThreads" && k !== "staging") {
        const hint = k === "max_threads" ? ' (did you mean "maxThreads"?)' : "";
        throw new ConfigError(
          `ThreadPoolExecutor options.${k}: unknown option${hint}; allowed: label, maxThreads, staging`,
        );
      }
    }
    const { label = "threads", maxThreads = os.availableParallelism() } = options;
    if (typeof label !== "string" || label === "") {
      throw new ConfigError(`ThreadPoolExecutor options.label: expected a non-empty string, got ${describe(label)}`);
    }
    if (!Number.isInteger(maxThreads) || maxThreads < 1) {
      throw new ConfigError(
        `ThreadPoolExecutor options.maxThreads: expected an integer >= 1, got ${describe(maxThreads)}`,
      );
    }
    this.label = label;
    this.maxThreads = maxThreads;
    this.staging = checkStagingOptions("ThreadPoolExecutor", options.staging);
    const slots = maxThreads * 2;
    this.#control = createControl(slots);
    for (let s = slots - 1; s >= 0; s--) this.#free.push(s);
  }

  start(ctx: ExecutorContext): Promise<void> {
    if (this.#pool)
      throw new ConfigError(`ThreadPoolExecutor "${this.label}" was started twice; make a new one per load()`);
    this.#ctx = ctx;
    this.#pool = new Piscina({
      filename: new URL("./worker.js", import.meta.url).href,
      minThreads: this.maxThreads,
      maxThreads: this.maxThreads,
      idleTimeout: 60_000,
      atomics: "sync",
      workerData: { sab: this.#control.sab, slots: this.maxThreads * 2 },
    });
    // Terminated threads surface as task errors; keep the pool's own error events from crashing the process.
    this.#pool.on("error", (e: unknown) =>
      ctx.logger.warn("thread pool error", { label: this.label, error: String(e) }),
    );
    return Promise.resolve();
  }

  validateResources(r: Resources): void {
    if ((r.numNodes ?? 1) > 1) {
      throw new ConfigError(
        `ThreadPoolExecutor "${this.label}" runs tasks on this machine only; resources.numNodes = ${r.numNodes} needs a multi-node executor`,
      );
    }
  }

  outstanding(): number {
    return this.#outstanding;
  }

  submit(task: ExecTask): void {
    if (this.#closed) return this.#report(task, false, new ConfigError(`executor "${this.label}" is shut down`));
    this.#outstanding++;
    this.#queue.push(task);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#dispatch);
  }

  #next(): ExecTask | undefined {
    for (;;) {
      const t =
        this.#front.length > 0
          ? this.#front.shift()
          : this.#head < this.#queue.length
            ? this.#queue[this.#head++]
            : undefined;
      if (t === undefined) return undefined;
      if (this.#skip.delete(t.id)) {
        this.#outstanding--;
        continue;
      }
      return t;
    }
  }

  #batchable(t: ExecTask): boolean {
    if (t.walltime !== undefined || t.fn.kind !== "app" || this.#solo.has(t.id)) return false;
    const ms = this.#ewma.get(t.fn.key);
    return ms !== undefined && ms < BATCH_BELOW_MS;
  }

  readonly #dispatch = (): void => {
    this.#scheduled = false;
    while (this.#free.length > 0 && !this.#closed) {
      const first = this.#next();
      if (first === undefined) break;
      const tasks = [first];
      if (this.#batchable(first)) {
        const waiting = this.#queue.length - this.#head + this.#front.length;
        const size = Math.min(MAX_BATCH, Math.max(1, Math.ceil(waiting / this.maxThreads)));
        while (tasks.length < size) {
          const peek = this.#front.length > 0 ? this.#front[0] : this.#queue[this.#head];
          if (peek === undefined || !this.#batchable(peek)) break;
          const t = this.#next();
          if (t === undefined) break;
          tasks.push(t);
        }
      }
      this.#send(tasks);
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  };

  #send(tasks: ExecTask[]): void {
    const slot = this.#free.pop()!;
    resetSlot(this.#control, slot);
    const b: Batch = { slot, tasks, done: false };
    const wire = new Array<WireTask>(tasks.length);
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i]!;
      this.#where.set(t.id, b);
      wire[i] = {
        id: t.id,
        fn: t.fn,
        args: t.args,
        walltime: t.walltime,
        shell: t.shell,
        staging: t.staging,
        measure: t.measure,
        memory: t.resources?.memory,
      };
    }
    const msg: BatchMessage = { slot, tasks: wire };
    (this.#pool!.run(msg) as Promise<BatchReply>).then(
      (reply) => this.#onReply(b, reply),
      (err: unknown) => this.#onError(b, err),
    );
    const t0 = tasks[0]!;
    if (tasks.length === 1 && t0.walltime !== undefined && t0.fn.kind === "app") this.#armWalltime(b, t0.walltime);
  }

  // The clock starts when the worker starts the task (after any module import), as Parsl's does.
  #armWalltime(b: Batch, walltime: number): void {
    const arm = (): void => {
      if (b.done) return;
      b.timer = setTimeout(() => this.#kill(b, 0, new AppTimeoutError(walltime)), walltime * 1000);
    };
    const w = Atomics.waitAsync(this.#control.ctl, at(b.slot, STARTED), 0);
    if (w.async) void w.value.then(arm);
    else arm();
  }

  #kill(b: Batch, index: number, error: Error): void {
    if (b.done || b.killed) return;
    b.killed = { index, error };
    const c = this.#control.ctl;
    const pid = Atomics.load(c, at(b.slot, PID));
    if (pid !== 0) killProcessGroup(pid);
    const tid = Atomics.load(c, at(b.slot, THREAD));
    const w = this.#pool?.threads.find((x) => x.threadId === tid);
    if (w) void w.terminate();
  }

  #release(b: Batch): void {
    b.done = true;
    if (b.timer) clearTimeout(b.timer);
    for (const t of b.tasks) this.#where.delete(t.id);
    // Wake a walltime waiter that never saw its task start.
    Atomics.notify(this.#control.ctl, at(b.slot, STARTED));
    this.#free.push(b.slot);
  }

  #onReply(b: Batch, reply: BatchReply): void {
    // With monitoring on, every try names its thread (the timeline's track), measured or not.
    const monitored = this.#ctx?.monitor !== undefined;
    const thread = monitored ? this.#threadName(b.slot) : undefined;
    const at = monitored ? Date.now() : undefined;
    this.#release(b);
    const outcomes = reply.outcomes ?? (v8.deserialize(reply.bytes!) as Outcome[]);
    for (let i = 0; i < b.tasks.length; i++) {
      const t = b.tasks[i]!;
      const [ok, v, ms, resources, worker] = outcomes[i]!;
      const info: ResultInfo = { runMs: ms, resources, worker: worker ?? thread, at };
      const prev = this.#ewma.get(t.fn.key);
      this.#ewma.set(t.fn.key, prev === undefined ? ms : prev * 0.8 + ms * 0.2);
      if (b.killed?.index === i) this.#report(t, false, b.killed.error);
      else if (ok) this.#report(t, true, isPrimitive(v) ? v : reviveFiles(v), info);
      else this.#report(t, false, errorFromJSON(v as ErrorJSON), info);
    }
    this.#schedule();
  }

  readonly #threadNames = new Map<number, string>();

  /** The name of the thread that ran this slot's batch, as a measured try on it reports. */
  #threadName(slot: number): string | undefined {
    const tid = Atomics.load(this.#control.ctl, at(slot, THREAD));
    if (tid === 0) return undefined;
    let name = this.#threadNames.get(tid);
    if (name === undefined) this.#threadNames.set(tid, (name = threadWorkerName(tid)));
    return name;
  }

  #onError(b: Batch, err: unknown): void {
    const ran = Atomics.load(this.#control.ctl, at(b.slot, INDEX));
    this.#release(b);
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.#closed) {
      for (const t of b.tasks) this.#report(t, false, e);
      return;
    }
    if (e.name === "DataCloneError") {
      if (b.tasks.length > 1) {
        for (const t of b.tasks) this.#solo.add(t.id);
        this.#front.push(...b.tasks);
      } else {
        const t = b.tasks[0]!;
        this.#solo.delete(t.id);
        this.#report(
          t,
          false,
          new SerializationError(
            `an argument of app ${t.fn.name} cannot be sent to a worker thread (${e.message}); ` +
              "arguments must be structured-cloneable: no functions, symbols or open handles",
          ),
        );
      }
      return this.#schedule();
    }
    // The thread died (terminated by us, or crashed): the running task gets the blame, the rest run again.
    // A thread that died before running anything (it could not start) fails the batch: retrying could loop forever.
    for (let i = 0; i < b.tasks.length; i++) {
      const t = b.tasks[i]!;
      if (b.killed?.index === i) this.#report(t, false, b.killed.error);
      else if (i === ran || ran < 0) {
        this.#report(t, false, new WorkerLostError(`thread of ${this.label}`, os.hostname(), e.message));
      } else this.#front.push(t);
    }
    this.#schedule();
  }

  #report(t: ExecTask, ok: boolean, value: unknown, info?: ResultInfo): void {
    this.#outstanding--;
    this.#solo.delete(t.id);
    this.#ctx?.onResult(t, ok, value, info);
  }

  cancel(taskId: number, error: Error): boolean {
    const b = this.#where.get(taskId);
    if (b === undefined) {
      this.#skip.add(taskId);
      return true;
    }
    const i = b.tasks.findIndex((t) => t.id === taskId);
    const c = this.#control.ctl;
    if (Atomics.load(c, at(b.slot, THREAD)) !== 0 && Atomics.load(c, at(b.slot, INDEX)) === i) {
      this.#kill(b, i, error);
    } else {
      this.#control.cancelled[b.slot * MAX_BATCH + i] = 1;
    }
    return true;
  }

  async shutdown(error: Error): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const b of new Set(this.#where.values())) {
      const pid = Atomics.load(this.#control.ctl, at(b.slot, PID));
      if (pid !== 0) killProcessGroup(pid);
    }
    for (let t = this.#next(); t !== undefined; t = this.#next()) this.#report(t, false, error);
    await this.#pool?.destroy();
  }
}
