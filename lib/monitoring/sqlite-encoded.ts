/**
 * Writing the kernel's encoded batches (event-log.ts) to SQLite straight from
 * their columns: the rows `planBatch` would make, bound value by value, with
 * no event or row objects in between. The store's thread then makes almost no
 * garbage, and garbage is what costs the workflow: the collector's helper
 * threads are shared with the workflow's own isolate and run at its priority,
 * where the writer thread itself runs at the lowest.
 * @module
 */
import type Database from "better-sqlite3";
import { ALL_STATES, FINAL_STATES } from "../states.js";
import { TASK, STATUS, TRY, type EncodedBatch, type SparseTask, type SparseTry } from "./event-log.js";
import type { MonitorEvent } from "./events.js";
import type { Cell } from "./store.js";

/** Rows per multi-row INSERT: half the cost of one statement a row (measured: status rows 1.84 → 0.94 µs). */
const ROWS_PER_INSERT = 32;

/**
 * Inserts rows of one table `ROWS_PER_INSERT` at a time; the rest go one by one at {@link RowSink.flush}, so rows
 * keep their order.
 */
export class RowSink {
  readonly #many: Database.Statement<Cell[]>;
  readonly #one: Database.Statement<Cell[]>;
  readonly #width: number;
  readonly #args: Cell[];
  #n = 0;

  /** `head` is `INSERT INTO t (cols)`, `tail` what follows the values (a conflict clause or ""). */
  constructor(db: Database.Database, head: string, width: number, tail: string) {
    const row = `(${Array.from({ length: width }, () => "?").join(", ")})`;
    this.#many = db.prepare(`${head} VALUES ${Array.from({ length: ROWS_PER_INSERT }, () => row).join(", ")}${tail}`);
    this.#one = db.prepare(`${head} VALUES ${row}${tail}`);
    this.#width = width;
    this.#args = new Array<Cell>(width * ROWS_PER_INSERT);
  }

  run(...values: Cell[]): void {
    const a = this.#args;
    for (let i = 0; i < this.#width; i++) a[this.#n++] = values[i]!;
    if (this.#n === a.length) {
      this.#many.run(...a);
      this.#n = 0;
    }
  }

  flush(): void {
    for (let o = 0; o < this.#n; o += this.#width) this.#one.run(...this.#args.slice(o, o + this.#width));
    this.#n = 0;
  }

  /** Forgets rows not inserted yet (their transaction failed and is rolled back). */
  reset(): void {
    this.#n = 0;
  }
}

/** What a batch is written with, made once; `others` writes the rare events (workflow, block, node) as objects. */
export interface EncodedStatements {
  task: RowSink;
  status: RowSink;
  try: RowSink;
  resource: RowSink;
  /** UPDATE_TASK of sqlite-store.ts: state, executor, returned, failed, run, task. */
  update: Database.Statement<Cell[]>;
  others: (events: MonitorEvent[]) => void;
}

const PENDING = ALL_STATES.indexOf("pending");
const FINAL = ALL_STATES.map((s) => FINAL_STATES.has(s));
const int = Math.round;

/**
 * Writes one batch; `strings` is the string table with this batch's new strings already appended. Call inside a
 * transaction (a batch is all or nothing). Same rows as `planBatch(new EventDecoder().decode(b))`.
 */
export function writeEncoded(st: EncodedStatements, b: EncodedBatch, strings: readonly string[]): void {
  const run = b.run;
  const n = b.taskRows;
  const tasks = b.tasks;
  // What the batch's statuses and tries set on each task, by slot: slots 0..n-1 are the tasks it inserts (folded
  // into their rows), the ones after are tasks of earlier batches (updated). -1: not said.
  const state: number[] = new Array<number>(n).fill(PENDING);
  const executor: number[] = new Array<number>(n).fill(-1);
  const returned: number[] = new Array<number>(n).fill(-1);
  const failed: number[] = new Array<number>(n).fill(0);
  const later = new Map<number, number>();
  const rowOf = rowFinder(tasks, n);
  const slot = (task: number): number => {
    const r = rowOf(task);
    if (r >= 0) return r;
    let l = later.get(task);
    if (l === undefined) {
      later.set(task, (l = state.length));
      state.push(-1);
      executor.push(-1);
      returned.push(-1);
      failed.push(0);
    }
    return l;
  };

  let taskPlus: Map<number, SparseTask> | undefined;
  let tryPlus: Map<string, SparseTry> | undefined;
  let others: MonitorEvent[] | undefined;
  for (const e of b.extra) {
    if (e.t === "task+") (taskPlus ??= new Map()).set(e.task, e);
    else if (e.t === "try+") (tryPlus ??= new Map()).set(`${e.task}.${e.try}`, e);
    else (others ??= []).push(e);
  }

  // a task row stands for its "pending" status (EventLog.task), first as in decode()
  for (let r = 0; r < n; r++) st.status.run(run, int(tasks[r * TASK]!), 0, "pending", int(tasks[r * TASK + 2]!));

  const s = b.status;
  for (let r = 0; r < b.statusRows; r++) {
    const o = r * STATUS;
    const task = s[o]!;
    const code = s[o + 2]!;
    const at = s[o + 3]!;
    const ex = s[o + 4]!;
    st.status.run(run, int(task), int(s[o + 1]!), ALL_STATES[code]!, int(at));
    const t = slot(task);
    state[t] = code;
    if (ex >= 0) executor[t] = ex;
    if (FINAL[code]) returned[t] = at;
  }

  const y = b.tries;
  // a try's final state stands for its status row (EventLog.try), after the batch's others
  for (let r = 0; r < b.tryRows; r++) {
    const o = r * TRY;
    const code = y[o + 8]!;
    if (code < 0) continue;
    const task = y[o]!;
    const ex = y[o + 2]!;
    const at = y[o + 4]!;
    st.status.run(run, int(task), int(y[o + 1]!), ALL_STATES[code]!, int(at));
    const t = slot(task);
    state[t] = code;
    if (strings[ex] !== "") executor[t] = ex;
    returned[t] = at;
  }
  for (let r = 0; r < b.tryRows; r++) {
    const o = r * TRY;
    const task = y[o]!;
    const tryNo = y[o + 1]!;
    const ex = y[o + 2]!;
    const ok = y[o + 5] === 1;
    const w = y[o + 6]!;
    const running = y[o + 7]!;
    const x = tryPlus?.get(`${task}.${tryNo}`);
    const e = x?.error;
    st.try.run(
      run,
      int(task),
      int(tryNo),
      strings[ex]!,
      x?.host ?? null,
      x?.block ?? null,
      w >= 0 ? strings[w]! : null,
      int(y[o + 3]!),
      running >= 0 ? int(running) : null,
      int(y[o + 4]!),
      ok ? 1 : 0,
      e?.name ?? null,
      e?.message ?? null,
      e?.stack ?? null,
    );
    const m = x?.resources;
    if (m !== undefined) {
      const exit = m.exitStatus;
      st.resource.run(
        run,
        int(task),
        int(tryNo),
        int(y[o + 4]!),
        int(m.pid),
        int(m.peakRssKiB),
        m.cpuUserMs,
        m.cpuSystemMs,
        m.wallMs,
        exit === undefined || !Number.isFinite(exit) ? null : int(exit),
      );
    }
    // as planBatch: a status's executor wins over a try's, and "" (no executor yet) says nothing
    const t = slot(task);
    if (executor[t] === -1 && strings[ex] !== "") executor[t] = ex;
    if (!ok) failed[t]!++;
  }

  for (let r = 0; r < n; r++) {
    const o = r * TASK;
    const task = tasks[o]!;
    const x = taskPlus?.get(task);
    const res = x?.resources;
    st.task.run(
      run,
      int(task),
      strings[tasks[o + 1]!]!,
      x?.depends === undefined || x.depends.length === 0 ? "[]" : JSON.stringify(x.depends),
      tasks[o + 3] === 1 ? 1 : 0,
      res !== undefined && Object.keys(res).length > 0 ? JSON.stringify(res) : null,
      int(tasks[o + 2]!),
      ALL_STATES[state[r]!]!,
      executor[r]! >= 0 ? strings[executor[r]!]! : null,
      returned[r]! >= 0 ? int(returned[r]!) : null,
      failed[r]!,
    );
  }
  // rows before the updates: a task a later batch of the same commit updates must be there
  for (const sink of [st.status, st.try, st.resource, st.task]) sink.flush();
  for (const [task, t] of later) {
    st.update.run(
      state[t]! >= 0 ? ALL_STATES[state[t]!]! : null,
      executor[t]! >= 0 ? strings[executor[t]!]! : null,
      returned[t]! >= 0 ? int(returned[t]!) : null,
      failed[t]!,
      run,
      int(task),
    );
  }
  if (others !== undefined) st.others(others);
}

/** Finds a task's row among the batch's task rows: a binary search (ids come in order), a map if they do not. */
function rowFinder(tasks: Float64Array, n: number): (task: number) => number {
  let sorted = true;
  for (let r = 1; r < n && sorted; r++) sorted = tasks[r * TASK]! > tasks[(r - 1) * TASK]!;
  if (!sorted) {
    const rows = new Map<number, number>();
    for (let r = 0; r < n; r++) rows.set(tasks[r * TASK]!, r);
    return (task) => rows.get(task) ?? -1;
  }
  return (task) => {
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = tasks[mid * TASK]!;
      if (v === task) return mid;
      if (v < task) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
}
