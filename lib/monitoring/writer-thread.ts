/**
 * The store writer's thread (see writer.ts): opens the store, then commits
 * the batches it is handed in order. Batches that queue up while a commit
 * runs are written together, in one transaction, so a slow database makes
 * fewer, larger commits instead of a growing backlog.
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { MonitorEvent } from "./events.js";
import { openStore, type MonitoringStore, type StoreTarget } from "./store.js";
import { EventDecoder, type EncodedBatch } from "./event-log.js";

/** Messages to the thread. */
export type ToWriter =
  | { type: "batch"; seq: number; events: MonitorEvent[] }
  | { type: "encoded"; seq: number; batch: EncodedBatch }
  | { type: "close" };
/** Messages from the thread. `done` covers every batch up to `seq`; `failed` lists those that could not be written. */
export type FromWriter =
  | { type: "ready" }
  | { type: "open-failed"; message: string }
  | { type: "done"; seq: number; failed: { seq: number; message: string }[] }
  /** An encoded batch's buffers, decoded and handed back for the log to fill again. */
  | { type: "buffers"; buffers: ArrayBuffer[] }
  | { type: "closed" };

/** Events per transaction when batches have queued up. */
const MAX_EVENTS = 50_000;
/** How long a batch is retried while the database is busy or unreachable, ms. */
const RETRY_FOR_MS = 60_000;

const port = parentPort!;
const send = (m: FromWriter): void => port.postMessage(m);
/**
 * Batches waiting for a commit. The kernel's stay encoded (typed arrays, ~150 bytes a task) until their turn: a
 * workflow that outruns the database queues compact columns, not objects.
 */
const queue: { seq: number; events?: MonitorEvent[]; encoded?: EncodedBatch; size: number }[] = [];
// The kernel's encoded batches share one string table: decoded here, in arrival order.
const decoder = new EventDecoder();

/** Decodes a batch and gives its buffers back: a log that reuses them allocates (and zeroes) no new memory. */
function decodeAndReturn(b: EncodedBatch): MonitorEvent[] {
  const events = decoder.decode(b);
  const buffers = [b.tasks.buffer, b.status.buffer, b.tries.buffer] as ArrayBuffer[];
  port.postMessage({ type: "buffers", buffers } satisfies FromWriter, buffers);
  return events;
}

let store: MonitoringStore | undefined;
let busy = false;
let closing = false;

/** Lock contention and lost connections pass; anything else (bad data, a full disk) will fail again. */
function transient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return true;
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"].includes(code)) return true;
  // PostgreSQL: connection exceptions, serialization failure, deadlock, too many connections, shutdown.
  return /^(08|57P0)/.test(code) || ["40001", "40P01", "53300"].includes(code);
}

async function writeWithRetry(s: MonitoringStore, events: MonitorEvent[]): Promise<void> {
  const end = Date.now() + RETRY_FOR_MS;
  for (let wait = 20; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await s.write(events);
    } catch (e) {
      if (!transient(e) || Date.now() + wait > end) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function commit(s: MonitoringStore, batches: { seq: number; events: MonitorEvent[] }[]): Promise<void> {
  const failed: { seq: number; message: string }[] = [];
  try {
    await writeWithRetry(s, batches.length === 1 ? batches[0]!.events : batches.flatMap((b) => b.events));
  } catch (e) {
    if (batches.length === 1) failed.push({ seq: batches[0]!.seq, message: message(e) });
    // One bad batch must not take the ones merged with it down: write them one by one.
    else
      for (const b of batches) {
        try {
          await writeWithRetry(s, b.events);
        } catch (e2) {
          failed.push({ seq: b.seq, message: message(e2) });
        }
      }
  }
  send({ type: "done", seq: batches[batches.length - 1]!.seq, failed });
}

async function drain(): Promise<void> {
  if (busy || store === undefined) return;
  busy = true;
  try {
    while (queue.length > 0) {
      let n = 0;
      let k = 0;
      while (k < queue.length && (k === 0 || n + queue[k]!.size <= MAX_EVENTS)) n += queue[k++]!.size;
      // decoded in arrival order: the batches share one string table
      const batches = queue.splice(0, k).map((b) => ({ seq: b.seq, events: b.events ?? decodeAndReturn(b.encoded!) }));
      await commit(store, batches);
      // Lets batches posted meanwhile arrive, to be merged into the next commit.
      await new Promise((r) => setImmediate(r));
    }
    if (closing) {
      await store.close().catch(() => undefined);
      store = undefined;
      send({ type: "closed" });
      port.close();
    }
  } finally {
    busy = false;
  }
}

port.on("message", (m: ToWriter) => {
  if (m.type === "batch") queue.push({ seq: m.seq, events: m.events, size: m.events.length });
  else if (m.type === "encoded") {
    const b = m.batch;
    // a task row also stands for its "pending" status (see EventLog.task)
    queue.push({ seq: m.seq, encoded: b, size: 2 * b.taskRows + b.statusRows + b.tryRows + b.extra.length });
  } else closing = true;
  void drain();
});

/**
 * Gives this thread the lowest CPU priority (Linux lets a thread's nice value differ from its process's). A workflow
 * that keeps every core busy then runs at almost full speed while the store falls behind; the store catches up when
 * a core is idle, and `cleanup()` waits for it. Elsewhere (or where refused) the thread keeps the process's priority.
 */
function yieldCpu(): void {
  try {
    const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 19);
  } catch {
    // not Linux, or not allowed: same priority as the workflow
  }
}

yieldCpu();
try {
  store = await openStore((workerData as { target: StoreTarget }).target);
  send({ type: "ready" });
  void drain();
} catch (e) {
  send({ type: "open-failed", message: message(e) });
  port.close();
}
