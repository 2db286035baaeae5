/**
 * The kernel's side of monitoring: events recorded as numbers in typed-array
 * columns (strings interned), handed to the store's thread in batches. A
 * no-op task costs a few microseconds on the thread pool; cloning an object
 * per event would double that, so the hot events (task, status, try) never
 * become objects on the workflow thread. Rare ones (dependencies, errors,
 * resources, blocks, nodes) travel as objects. The log keeps its columns and
 * the message carries a copy: transferring them instead would make the
 * workflow allocate new ones for every batch, and a big heap pays for that
 * memory churn in garbage collections (measured: 15% of a sustained no-op
 * stream's throughput on the thread pool).
 * @module
 */
import { ALL_STATES, type TaskState } from "../states.js";
import type { MonitorEvent, ResourcesMeasured } from "./events.js";

const STATE_CODE = new Map<TaskState, number>(ALL_STATES.map((s, i) => [s, i]));
/** Rows per batch: a batch goes to the store when full, or on the flush timer. */
const ROWS = 8192;
/** Kinds of interned strings, each with its own one-entry cache. */
const APP = 0;
const EXECUTOR = 1;
const WORKER = 2;
/** Columns of each kind of row. */
export const TASK = 4; // task, app, invoked, memoize
export const STATUS = 5; // task, try, state, at, executor
export const TRY = 9; // task, try, executor, launched, returned, ok, worker, running, final state

/** One batch as it crosses to the store's thread. */
export interface EncodedBatch {
  run: string;
  /** Strings interned since the previous batch, in order of their ids. */
  strings: string[];
  tasks: Float64Array;
  taskRows: number;
  status: Float64Array;
  statusRows: number;
  tries: Float64Array;
  tryRows: number;
  /** Rare events and the sparse parts of rows (by task and try). */
  extra: (MonitorEvent | SparseTask | SparseTry)[];
  /** How long the batch was open before it was sent, ms: with its rows, the workflow's pace. */
  span: number;
}

/** Dependencies and resources of a task, when it has any. */
export interface SparseTask {
  t: "task+";
  task: number;
  depends?: number[];
  resources?: Record<string, number>;
}

/** The error, resources and place of a try, when known. */
export interface SparseTry {
  t: "try+";
  task: number;
  try: number;
  error?: { name: string; message: string; stack?: string };
  resources?: ResourcesMeasured;
  host?: string;
  block?: string;
}

/** Collects events and hands full (or timed-out) batches to `send`. */
export class EventLog {
  readonly run: string;
  readonly #send: (b: EncodedBatch) => void;
  readonly #flushMs: number;
  readonly #ids = new Map<string, number>();
  #newStrings: string[] = [];
  #tasks = new Float64Array(ROWS * TASK);
  #taskRows = 0;
  #status = new Float64Array(ROWS * STATUS);
  #statusRows = 0;
  #tries = new Float64Array(ROWS * TRY);
  #tryRows = 0;
  #extra: EncodedBatch["extra"] = [];
  #timer: NodeJS.Timeout | undefined;
  /** When the open batch got its first event (performance.now()). */
  #openedAt = 0;
  /** The last string of each kind (app, executor, worker) and its id: the same ones come many times in a row. */
  readonly #lastString: (string | undefined)[] = [undefined, undefined, undefined];
  readonly #lastId = [-1, -1, -1];

  /** `send` must copy the batch (postMessage does): the log fills the same columns again. */
  constructor(run: string, flushMs: number, send: (b: EncodedBatch) => void) {
    this.run = run;
    this.#flushMs = flushMs;
    this.#send = send;
  }

  #id(s: string, kind: number): number {
    if (s === this.#lastString[kind]) return this.#lastId[kind]!;
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.#ids.size;
      this.#ids.set(s, id);
      this.#newStrings.push(s);
    }
    this.#lastString[kind] = s;
    this.#lastId[kind] = id;
    return id;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.flush(), this.#flushMs).unref();
    this.#openedAt = performance.now();
  }

  /** A new task; it stands for its "pending" status too (the decoder adds that row), saving a call per task. */
  task(task: number, app: string, invoked: number, memoize: boolean): void {
    if (this.#taskRows === ROWS) this.flush();
    const o = this.#taskRows++ * TASK;
    const a = this.#tasks;
    a[o] = task;
    a[o + 1] = this.#id(app, APP);
    a[o + 2] = invoked;
    a[o + 3] = memoize ? 1 : 0;
    this.#arm();
  }

  taskExtra(e: SparseTask): void {
    this.#extra.push(e);
  }

  status(task: number, tryNo: number, state: TaskState, at: number, executor: string | undefined): void {
    if (this.#statusRows === ROWS) this.flush();
    const o = this.#statusRows++ * STATUS;
    const a = this.#status;
    a[o] = task;
    a[o + 1] = tryNo;
    a[o + 2] = STATE_CODE.get(state)!;
    a[o + 3] = at;
    a[o + 4] = executor === undefined ? -1 : this.#id(executor, EXECUTOR);
    this.#arm();
  }

  /** A try's result; `final`: the state the task ended in with it, which stands for that status row (at `returned`). */
  try(
    task: number,
    tryNo: number,
    executor: string,
    launched: number,
    returned: number,
    ok: boolean,
    worker: string | undefined,
    running: number | undefined,
    final?: TaskState,
  ): void {
    if (this.#tryRows === ROWS) this.flush();
    const o = this.#tryRows++ * TRY;
    const a = this.#tries;
    a[o] = task;
    a[o + 1] = tryNo;
    a[o + 2] = this.#id(executor, EXECUTOR);
    a[o + 3] = launched;
    a[o + 4] = returned;
    a[o + 5] = ok ? 1 : 0;
    a[o + 6] = worker === undefined ? -1 : this.#id(worker, WORKER);
    a[o + 7] = running ?? -1;
    a[o + 8] = final === undefined ? -1 : STATE_CODE.get(final)!;
    this.#arm();
  }

  /** A rare event (workflow, block, node) or the sparse part of a try. */
  other(e: MonitorEvent | SparseTry): void {
    this.#extra.push(e);
    this.#arm();
  }

  /** Sends what has been collected (if anything). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#taskRows + this.#statusRows + this.#tryRows + this.#extra.length === 0) return;
    const b: EncodedBatch = {
      run: this.run,
      strings: this.#newStrings,
      tasks: this.#tasks,
      taskRows: this.#taskRows,
      status: this.#status,
      statusRows: this.#statusRows,
      tries: this.#tries,
      tryRows: this.#tryRows,
      extra: this.#extra,
      span: performance.now() - this.#openedAt,
    };
    this.#send(b);
    this.#newStrings = [];
    this.#extra = [];
    this.#taskRows = this.#statusRows = this.#tryRows = 0;
  }
}

/** Turns encoded batches back into events (on the store's thread); keeps the string table across batches. */
export class EventDecoder {
  readonly #strings: string[] = [];

  /** Takes in a batch's new strings (once per batch, in order) and returns the whole table. */
  absorb(b: EncodedBatch): readonly string[] {
    for (const x of b.strings) this.#strings.push(x);
    return this.#strings;
  }

  /** The batch as events; `s` is the string table as of it (absorbed now unless given). */
  decode(b: EncodedBatch, s: readonly string[] = this.absorb(b)): MonitorEvent[] {
    const run = b.run;
    const out: MonitorEvent[] = [];
    const depends = new Map<number, SparseTask>();
    const tryPlus = new Map<string, SparseTry>();
    for (const e of b.extra) {
      if (e.t === "task+") depends.set(e.task, e);
      else if (e.t === "try+") tryPlus.set(`${e.task}.${e.try}`, e);
    }
    for (const e of b.extra) if (e.t === "workflow") out.push(e);
    for (let r = 0; r < b.taskRows; r++) {
      const o = r * TASK;
      const task = b.tasks[o]!;
      const x = depends.get(task);
      out.push({
        t: "task",
        run,
        task,
        app: s[b.tasks[o + 1]!]!,
        invoked: b.tasks[o + 2]!,
        memoize: b.tasks[o + 3] === 1,
        depends: x?.depends ?? [],
        ...(x?.resources !== undefined ? { resources: x.resources } : {}),
      });
    }
    for (let r = 0; r < b.taskRows; r++) {
      const o = r * TASK;
      out.push({ t: "status", run, task: b.tasks[o]!, try: 0, state: "pending", at: b.tasks[o + 2]! });
    }
    for (let r = 0; r < b.statusRows; r++) {
      const o = r * STATUS;
      const ex = b.status[o + 4]!;
      out.push({
        t: "status",
        run,
        task: b.status[o]!,
        try: b.status[o + 1]!,
        state: ALL_STATES[b.status[o + 2]!]!,
        at: b.status[o + 3]!,
        ...(ex >= 0 ? { executor: s[ex]! } : {}),
      });
    }
    // a try's final state stands for its status row, after the batch's others as in writeEncoded
    for (let r = 0; r < b.tryRows; r++) {
      const o = r * TRY;
      const final = b.tries[o + 8]!;
      if (final < 0) continue;
      const ex = s[b.tries[o + 2]!]!;
      const at = b.tries[o + 4]!;
      out.push({
        t: "status",
        run,
        task: b.tries[o]!,
        try: b.tries[o + 1]!,
        state: ALL_STATES[final]!,
        at,
        ...(ex !== "" ? { executor: ex } : {}),
      });
    }
    for (let r = 0; r < b.tryRows; r++) {
      const o = r * TRY;
      const task = b.tries[o]!;
      const tryNo = b.tries[o + 1]!;
      const w = b.tries[o + 6]!;
      const running = b.tries[o + 7]!;
      const x = tryPlus.get(`${task}.${tryNo}`);
      out.push({
        t: "try",
        run,
        task,
        try: tryNo,
        executor: s[b.tries[o + 2]!]!,
        launched: b.tries[o + 3]!,
        ...(running >= 0 ? { running } : {}),
        returned: b.tries[o + 4]!,
        ok: b.tries[o + 5] === 1,
        ...(w >= 0 ? { worker: s[w]! } : {}),
        ...(x?.error !== undefined ? { error: x.error } : {}),
        ...(x?.resources !== undefined ? { resources: x.resources } : {}),
        ...(x?.host !== undefined ? { host: x.host } : {}),
        ...(x?.block !== undefined ? { block: x.block } : {}),
      });
    }
    for (const e of b.extra) if (e.t === "block" || e.t === "node") out.push(e);
    return out;
  }
}
