/**
 * The store writer: a worker thread that owns the monitoring store, so the
 * workflow's thread only hands batches over and never waits for a commit.
 * @module
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";
import { ConfigError } from "../errors.js";
import type { MonitorEvent } from "./events.js";
import type { EncodedBatch } from "./event-log.js";
import { describeTarget, type StoreTarget } from "./store.js";
import type { FromWriter, ToWriter } from "./writer-thread.js";

/**
 * Starts the thread's module beside this one: the built `.js`, or from source
 * (tests, tsx) the `.ts` through tsx's loader, registered inside the thread
 * because Node 20 does not hand a parent's `--import tsx` hooks to workers.
 */
function startThread(options: WorkerOptions): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./writer-thread.js", import.meta.url), options);
  // require.resolve picks the package's CommonJS build, whose register() cannot hook ESM: take its ESM twin.
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  const thread = new URL("./writer-thread.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(api)}).then((t) => { t.register(); return import(${JSON.stringify(thread)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

function checkTarget(target: unknown): string | undefined {
  const t = target as Record<string, unknown> | null;
  const ok =
    typeof t === "object" &&
    t !== null &&
    Object.keys(t).length === 1 &&
    ((typeof t.sqlite === "string" && t.sqlite !== "") ||
      (typeof t.postgres === "string" && /^postgres(ql)?:\/\//.test(t.postgres)));
  return ok
    ? undefined
    : `monitoring store: expected { sqlite: "<file>" } or { postgres: "postgres://…" }, got ${JSON.stringify(target)}`;
}

/**
 * Writes monitoring events to a store ({@link StoreTarget}) from its own
 * thread. Each posted batch is committed as one transaction (batches that
 * queue up may share one); nothing posted is dropped while the process lives,
 * and a batch whose {@link StoreWriter.flush} resolved survives the process
 * being killed.
 *
 * @example
 * ```ts
 * const w = new StoreWriter({ sqlite: path.join(dfk.runDir, "monitoring.db") });
 * await w.ready();
 * w.post([{ t: "status", run, task: 1, try: 0, state: "running", at: Date.now() }]);
 * await w.flush();   // committed
 * await w.close();
 * ```
 */
export class StoreWriter {
  readonly target: StoreTarget;
  readonly #worker: Worker | undefined;
  readonly #ready: Promise<void>;
  #seq = 0;
  #done = 0;
  #waiters: Waiter[] = [];
  /** Batches that failed since a flush last reported one. */
  #failures: string[] = [];
  /** Set when the thread is gone: everything after rejects with it. */
  #dead: Error | undefined;
  #closed: Promise<void> | undefined;
  #pendingReady = true;

  /** Starts the thread, which opens the store and creates its schema. */
  constructor(target: StoreTarget) {
    this.target = target;
    const bad = checkTarget(target);
    if (bad !== undefined) {
      this.#dead = new ConfigError(bad);
      this.#ready = Promise.reject(this.#dead);
      this.#ready.catch(() => undefined);
      this.#worker = undefined;
      return;
    }
    const where = describeTarget(target);
    const worker = startThread({ workerData: { target } });
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (m: FromWriter) => {
        if (m.type === "ready") {
          this.#pendingReady = false;
          this.#ref();
          resolve();
        } else if (m.type === "open-failed") {
          reject(this.#die(new ConfigError(m.message)));
        } else if (m.type === "done") this.#progress(m.seq, m.failed);
      });
      worker.on("error", (e) => {
        reject(this.#die(new Error(`monitoring store writer (${where}) failed: ${e.message}`, { cause: e })));
      });
      worker.on("exit", (code) => {
        reject(this.#die(new Error(`monitoring store writer (${where}) ended (exit code ${code})`)));
      });
    });
    this.#ready.catch(() => undefined);
  }

  /** Resolves once the store is open and its schema exists; rejects with a ConfigError naming the target if not. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Hands a batch to the thread (it is copied, the caller may reuse it). Never throws: failures reject the next flush. */
  post(events: MonitorEvent[]): void {
    if (events.length === 0 || this.#closed) return;
    if (this.#worker === undefined || this.#dead !== undefined) {
      this.#failures.push(`${events.length} events posted to a writer that is not running (${this.#dead?.message})`);
      return;
    }
    try {
      this.#worker.postMessage({ type: "batch", seq: this.#seq + 1, events } satisfies ToWriter);
      this.#seq++;
      this.#ref();
    } catch (e) {
      this.#failures.push(`a batch could not be handed to the writer: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Hands over a batch the kernel's {@link EventLog} encoded (copied: the log fills its columns again).
   * Never throws: failures reject the next flush.
   */
  postEncoded(batch: EncodedBatch): void {
    if (this.#closed) return;
    if (this.#worker === undefined || this.#dead !== undefined) {
      this.#failures.push(`an event batch posted to a writer that is not running (${this.#dead?.message})`);
      return;
    }
    try {
      this.#worker.postMessage({ type: "encoded", seq: this.#seq + 1, batch } satisfies ToWriter);
      this.#seq++;
      this.#ref();
    } catch (e) {
      this.#failures.push(`a batch could not be handed to the writer: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Resolves when every batch posted so far is committed; rejects if one of them could not be written. */
  flush(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ seq: this.#seq, resolve, reject });
      // while the workflow is busy the thread spools or holds batches (writer-thread.ts), not ones waited for
      if (this.#seq > this.#done && this.#dead === undefined)
        this.#worker?.postMessage({ type: "flush" } satisfies ToWriter);
      this.#settle();
    });
  }

  /** Flushes, closes the store and ends the thread. Rejects like {@link StoreWriter.flush} if a batch was lost. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const worker = this.#worker;
      let lost: Error | undefined;
      await this.flush().catch((e: unknown) => (lost = e instanceof Error ? e : new Error(String(e))));
      if (worker !== undefined && this.#dead === undefined) {
        const ended = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        worker.ref();
        worker.postMessage({ type: "close" } satisfies ToWriter);
        await ended;
      }
      this.#dead ??= new Error(`monitoring store writer (${describeTarget(this.target)}) is closed`);
      if (lost !== undefined) throw lost;
    })();
    return this.#closed;
  }

  #progress(seq: number, failed: { seq: number; message: string }[]): void {
    this.#done = seq;
    for (const f of failed) this.#failures.push(`batch ${f.seq}: ${f.message}`);
    this.#settle();
  }

  #settle(): void {
    const due = this.#waiters.filter((w) => w.seq <= this.#done || this.#dead !== undefined);
    if (due.length > 0) {
      this.#waiters = this.#waiters.filter((w) => !due.includes(w));
      const failures = this.#failures;
      this.#failures = [];
      for (const w of due) {
        if (w.seq > this.#done) w.reject(this.#dead!);
        else if (failures.length > 0) {
          w.reject(
            new Error(
              `monitoring store (${describeTarget(this.target)}): ${failures.length} batch(es) not written: ${failures.join("; ")}`,
            ),
          );
        } else w.resolve();
      }
    }
    this.#ref();
  }

  /** Keeps the process alive while the thread has work or someone waits for it, not longer. */
  #ref(): void {
    const w = this.#worker;
    if (w === undefined) return;
    if (this.#dead === undefined && (this.#pendingReady || this.#seq > this.#done || this.#waiters.length > 0)) w.ref();
    else w.unref();
  }

  /** Marks the thread gone (the first cause wins) and fails whoever waits; returns the cause. */
  #die(e: Error): Error {
    this.#dead ??= e;
    this.#pendingReady = false;
    this.#settle();
    return this.#dead;
  }
}
