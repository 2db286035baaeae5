/**
 * The store writer's thread (see writer.ts): opens the store, then commits
 * the batches it is handed in order. Batches that queue up while a commit
 * runs are written together, in one transaction, so a slow database makes
 * fewer, larger commits instead of a growing backlog. While the workflow
 * keeps every core busy, a SQLite store's batches go to its spool file as
 * they come (one write each, spool.ts) and into the tables once it slows.
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import type { MonitorEvent } from "./events.js";
import { openStore, transient, type MonitoringStore, type StoreTarget, type Unspooled } from "./store.js";
import { EventDecoder, STATUS, TASK, TRY, type EncodedBatch } from "./event-log.js";

/** Messages to the thread. */
export type ToWriter =
  | { type: "batch"; seq: number; events: MonitorEvent[] }
  | { type: "encoded"; seq: number; batch: EncodedBatch }
  /** Someone waits for what was posted: write it now, however busy the workflow is. */
  | { type: "flush" }
  | { type: "close" };
/** Messages from the thread. `done` covers every batch up to `seq`; `failed` lists those that could not be written. */
export type FromWriter =
  | { type: "ready" }
  | { type: "open-failed"; message: string }
  | { type: "done"; seq: number; failed: { seq: number; message: string }[] }
  | { type: "closed" };

/** Events per transaction when batches have queued up. */
const MAX_EVENTS = 50_000;
/** How long a batch is retried while the database is busy or unreachable, ms. */
const RETRY_FOR_MS = 60_000;
/**
 * Tasks a second (each counted when submitted and again when its try returns) past which the workflow is taken to
 * keep every core busy: about 10,000 tasks/s.
 */
const HOT_RATE = 20_000;
/** The window the arrival rate is measured over, and how often a held queue is looked at again (ms). */
const RATE_WINDOW_MS = 1000;
const RECHECK_MS = 25;
/** The most a busy workflow makes a store without a spool (PostgreSQL) lag behind it, its batches held in memory (ms). */
const MAX_LAG_MS = 5000;
/** Events held past which such a store is written however busy the workflow is (~80 MB). */
const MAX_QUEUED = 2_000_000;

const port = parentPort!;
const send = (m: FromWriter): void => port.postMessage(m);
/** A batch waiting for its commit: events, or the kernel's encoded columns. */
interface Item {
  seq: number;
  /** When it arrived (performance.now()). */
  at: number;
  events?: MonitorEvent[];
  encoded?: EncodedBatch;
  /** The string table as of an encoded batch (set when it leaves the queue, in arrival order). */
  strings?: readonly string[];
  size: number;
  /** Tasks submitted plus tries returned in it: the workflow's pace. */
  tasks: number;
}

/**
 * Batches waiting for a commit. The kernel's stay encoded (typed arrays, ~150 bytes a task) until their turn: a
 * workflow that outruns the database queues compact columns, not objects.
 */
const queue: Item[] = [];
// The kernel's encoded batches share one string table, taken in here in arrival order.
const decoder = new EventDecoder();

/** Writes a group in one transaction: straight from the columns where the store can, else as events. */
function writeGroup(s: MonitoringStore, items: Item[]): Promise<void> {
  if (s.writeEncoded !== undefined && items.every((i) => i.encoded !== undefined)) {
    return s.writeEncoded(items.map((i) => ({ batch: i.encoded!, strings: i.strings! })));
  }
  const events = (i: Item): MonitorEvent[] => i.events ?? decoder.decode(i.encoded!, i.strings);
  return s.write(items.length === 1 ? events(items[0]!) : items.flatMap(events));
}

/** The filled part of a batch's columns (a message carries them whole): what is queued, spooled and written. */
function keepUsed(b: EncodedBatch): EncodedBatch {
  return {
    ...b,
    tasks: b.tasks.slice(0, b.taskRows * TASK),
    status: b.status.slice(0, b.statusRows * STATUS),
    tries: b.tries.slice(0, b.tryRows * TRY),
  };
}

let store: MonitoringStore | undefined;
let busy = false;
let closing = false;
/** A flush is waited for: batches up to this one are written without waiting for a pause. */
let urgentSeq = 0;
/** The last batch reported written. */
let doneSeq = 0;
/** Whether batches wait in the store's spool (this writer's, or a dead one's), and the last of this writer's there. */
let spooled = false;
let spooledSeq = 0;
/** Cleared when the spool refuses a batch: the store is then written (or held) as one without a spool. */
let canSpool = true;
/** Events queued, and recent arrivals (time, tasks) for the pace. */
let queued = 0;
const arrivals: { at: number; tasks: number }[] = [];
let arrived = 0;
/** The last batch that came: its sequence number, when, and the pace while it filled. */
let received = 0;
let lastAt = 0;
let lastRate = 0;

/**
 * Whether the workflow keeps every core busy: tasks come and go faster than HOT_RATE, over the last second or in
 * the last batch (as fast as it filled: the first batch of a burst that follows a pause tells).
 */
function hot(now: number): boolean {
  while (arrivals.length > 0 && arrivals[0]!.at < now - RATE_WINDOW_MS) arrived -= arrivals.shift()!.tasks;
  // what came after the window's first batch, over the time since it
  const oldest = arrivals[0];
  if (oldest !== undefined && ((arrived - oldest.tasks) * 1000) / Math.max(1, now - oldest.at) >= HOT_RATE) return true;
  return lastRate >= HOT_RATE && now - lastAt < RATE_WINDOW_MS;
}

/** Someone waits for a batch that is not in the tables yet (or the store is closing): write everything now. */
const urgent = (): boolean => closing || urgentSeq > doneSeq;

/**
 * How long to hold the queue of a store without a spool before writing it, ms (0: write now). SQLite's work (several
 * microseconds a task) would come out of a busy workflow's throughput: the writer waits for the pace to drop, but
 * lets such a store lag by at most MAX_LAG_MS or MAX_QUEUED events.
 */
function holdFor(): number {
  const first = queue[0];
  if (first === undefined || urgent() || queued >= MAX_QUEUED) return 0;
  const now = performance.now();
  const lag = MAX_LAG_MS - (now - first.at);
  return hot(now) && lag > 0 ? Math.min(RECHECK_MS, lag) : 0;
}

/** Runs a database call again while it fails for a passing reason, for up to RETRY_FOR_MS. */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  const end = Date.now() + RETRY_FOR_MS;
  for (let wait = 20; ; wait = Math.min(wait * 2, 2000)) {
    try {
      return await call();
    } catch (e) {
      if (!transient(e) || Date.now() + wait > end) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

const writeWithRetry = (s: MonitoringStore, items: Item[]): Promise<void> => retrying(() => writeGroup(s, items));

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function report(seq: number, failed: { seq: number; message: string }[]): void {
  doneSeq = Math.max(doneSeq, seq);
  send({ type: "done", seq: doneSeq, failed });
}

async function commit(s: MonitoringStore, batches: Item[]): Promise<void> {
  const failed: { seq: number; message: string }[] = [];
  try {
    await writeWithRetry(s, batches);
  } catch (e) {
    if (batches.length === 1) failed.push({ seq: batches[0]!.seq, message: message(e) });
    // One bad batch must not take the ones merged with it down: write them one by one.
    else
      for (const b of batches) {
        try {
          await writeWithRetry(s, [b]);
        } catch (e2) {
          failed.push({ seq: b.seq, message: message(e2) });
        }
      }
  }
  report(batches[batches.length - 1]!.seq, failed);
}

/** The queued batches, appended to the spool as they are; they are not done (flushed) until in the tables. */
async function toSpool(s: MonitoringStore): Promise<void> {
  const items = queue.splice(0);
  for (const b of items) queued -= b.size;
  // strings first, once each: a retried call must not take them in twice
  for (const i of items) i.strings ??= decoder.absorb(i.encoded!);
  const batches = items.map((i) => ({ seq: i.seq, size: i.size, batch: i.encoded!, strings: i.strings! }));
  try {
    await retrying(() => s.spool!(batches));
    spooled = true;
    spooledSeq = items[items.length - 1]!.seq;
  } catch {
    // the spool is full or broken: write them the usual way (their strings are absorbed)
    canSpool = false;
    queue.unshift(...items);
    for (const b of items) queued += b.size;
  }
}

/** The spool's oldest batches into the tables; once it is empty, this writer's spooled batches are all done. */
async function fromSpool(s: MonitoringStore): Promise<void> {
  let r: Unspooled;
  try {
    r = await retrying(() => s.unspool!(MAX_EVENTS));
  } catch (e) {
    // the database refuses (a full disk): what is spooled stays there for a reader to finish (read.ts)
    spooled = false;
    canSpool = false;
    report(spooledSeq, [{ seq: spooledSeq, message: `spooled batches could not be written: ${message(e)}` }]);
    return;
  }
  spooled = r.more;
  if (r.upTo > doneSeq || r.failed.length > 0) report(r.upTo, r.failed);
  if (!spooled && spooledSeq > doneSeq) report(spooledSeq, []);
}

async function drain(): Promise<void> {
  if (busy || store === undefined) return;
  busy = true;
  const s = store;
  try {
    while (queue.length > 0 || spooled) {
      if (!urgent() && hot(performance.now())) {
        const spooling = canSpool && s.spool !== undefined;
        if (spooling && queue.length > 0 && queue.every((i) => i.encoded !== undefined)) {
          await toSpool(s);
          continue;
        }
        // spooling: wait for a calm moment to unspool, write batches that cannot be spooled; else hold them
        const wait = spooling ? (queue.length === 0 ? RECHECK_MS : 0) : holdFor();
        if (wait > 0) {
          await new Promise((r) => setTimeout(r, wait));
          continue;
        }
      }
      // in order: what waits in the spool goes into the tables before anything queued after it
      if (spooled && s.unspool !== undefined) {
        await fromSpool(s);
        // lets batches (and a flush or close) posted meanwhile arrive, and the pace be looked at again
        await new Promise((r) => setImmediate(r));
        continue;
      }
      spooled = false;
      let n = 0;
      let k = 0;
      while (k < queue.length && (k === 0 || n + queue[k]!.size <= MAX_EVENTS)) n += queue[k++]!.size;
      const batches = queue.splice(0, k);
      queued -= n;
      for (const b of batches) if (b.encoded !== undefined) b.strings ??= decoder.absorb(b.encoded);
      await commit(s, batches);
      // Lets batches posted meanwhile arrive, to be merged into the next commit.
      await new Promise((r) => setImmediate(r));
    }
    if (closing) {
      await s.close().catch(() => undefined);
      store = undefined;
      send({ type: "closed" });
      port.close();
    }
  } finally {
    busy = false;
  }
}

/** `rate`: tasks a second while the batch was open (0: not known). */
function enqueue(item: Item, rate: number): void {
  queue.push(item);
  queued += item.size;
  arrivals.push({ at: item.at, tasks: item.tasks });
  arrived += item.tasks;
  received = item.seq;
  lastAt = item.at;
  lastRate = rate;
}

port.on("message", (m: ToWriter) => {
  if (m.type === "batch") {
    const tasks = m.events.reduce((n, e) => (e.t === "task" || e.t === "try" ? n + 1 : n), 0);
    enqueue({ seq: m.seq, at: performance.now(), events: m.events, size: m.events.length, tasks }, 0);
  } else if (m.type === "encoded") {
    const b = keepUsed(m.batch);
    // a task row also stands for its "pending" status, a try row maybe for its final one (see EventLog)
    const size = 2 * b.taskRows + b.statusRows + 2 * b.tryRows + b.extra.length;
    const tasks = b.taskRows + b.tryRows;
    enqueue({ seq: m.seq, at: performance.now(), encoded: b, size, tasks }, (tasks * 1000) / Math.max(1, b.span));
  } else if (m.type === "flush") urgentSeq = received;
  else closing = true;
  void drain();
});

/**
 * Gives this thread the lowest CPU priority (Linux lets a thread's nice value differ from its process's): when the
 * workflow keeps every core busy the store falls behind rather than slowing it as much, catches up when a core is
 * idle, and `cleanup()` waits for it. Elsewhere (or where refused) the thread keeps the process's priority.
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
  // a writer that died may have left batches in the spool: they go into the tables before this one's
  spooled = store.spooled?.() ?? false;
  send({ type: "ready" });
  void drain();
} catch (e) {
  send({ type: "open-failed", message: message(e) });
  port.close();
}
