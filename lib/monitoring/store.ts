/**
 * The monitoring store: where {@link MonitorEvent} batches become rows of the
 * tables in `SCHEMA` (schema.ts; docs/monitoring-schema.md). Two back ends share
 * the row plan below: SQLite (a file, one workflow) and PostgreSQL (shared by
 * several workflows, told apart by `run_id`).
 * @module
 */
import { ConfigError } from "../errors.js";
import { FINAL_STATES, type TaskState } from "../states.js";
import type { MonitorEvent, WorkflowEvent } from "./events.js";
import type { EncodedBatch } from "./event-log.js";
import type { SpoolBatch } from "./spool.js";

/**
 * Writes event batches to a database. Implementations are synchronous at
 * heart and meant to run on the store writer's own thread (`StoreWriter`, writer.ts).
 *
 * @example
 * ```ts
 * const store = await openStore({ sqlite: "runinfo/000/monitoring.db" });
 * await store.write([{ t: "status", run, task: 1, try: 0, state: "running", at: Date.now() }]);
 * await store.close();
 * ```
 */
export interface MonitoringStore {
  /** Writes a batch atomically (one transaction). */
  write(events: readonly MonitorEvent[]): Promise<void>;
  /**
   * Writes the kernel's encoded batches atomically without decoding them to events, where the store can
   * (each batch with the string table as of it).
   */
  writeEncoded?(batches: readonly { batch: EncodedBatch; strings: readonly string[] }[]): Promise<void>;
  /**
   * Keeps encoded batches as they came, in a file that outlives the process (not a power cut: it is not fsynced), for
   * {@link MonitoringStore.unspool} to write into the tables later:
   * what the writer does while the workflow keeps every core busy (spool.ts).
   */
  spool?(batches: readonly SpoolBatch[]): Promise<void>;
  /**
   * Writes the oldest spooled batches (about `maxEvents` events' worth) into the tables, in one transaction; one that
   * cannot be written is skipped and reported.
   */
  unspool?(maxEvents: number): Promise<Unspooled>;
  /** Whether batches wait in a spool (this writer's, or one's that died). */
  spooled?(): boolean;
  close(): Promise<void>;
}

/** What {@link MonitoringStore.unspool} did. */
export interface Unspooled {
  /** The last of this writer's batches it took from the spool (written, or skipped: see `failed`); 0 if none. */
  upTo: number;
  /** Batches that could not be written however they were split, skipped with the reason (seq 0: not this writer's). */
  failed: { seq: number; message: string }[];
  /** Whether batches still wait. */
  more: boolean;
}

/** Lock contention and lost connections pass; anything else (bad data, a full disk) will fail again. */
export function transient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return true;
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"].includes(code)) return true;
  // PostgreSQL: connection exceptions, serialization failure, deadlock, too many connections, shutdown.
  return /^(08|57P0)/.test(code) || ["40001", "40P01", "53300"].includes(code);
}

/** Where the store lives: a SQLite file path, or a PostgreSQL connection URL. */
export type StoreTarget = { sqlite: string } | { postgres: string };

/**
 * The target for messages: the SQLite path, or the PostgreSQL URL without its password.
 *
 * @example
 * ```ts
 * describeTarget({ postgres: "postgres://me:secret@db:5432/mon" }); // "PostgreSQL postgres://me:***@db:5432/mon"
 * ```
 */
export function describeTarget(target: StoreTarget): string {
  if ("sqlite" in target) return `SQLite file ${target.sqlite}`;
  try {
    const u = new URL(target.postgres);
    if (u.password !== "") u.password = "***";
    return `PostgreSQL ${u.href}`;
  } catch {
    return `PostgreSQL ${target.postgres.replace(/:[^:@/]*@/, ":***@")}`;
  }
}

/**
 * Opens (and creates the schema of) the store at `target`.
 *
 * @throws ConfigError naming the target and why it could not be opened.
 * @example
 * ```ts
 * const store = await openStore({ postgres: "postgres://taskloom@127.0.0.1:5432/monitoring" });
 * ```
 */
export async function openStore(target: StoreTarget): Promise<MonitoringStore> {
  if (typeof target !== "object" || target === null) {
    throw new ConfigError(`monitoring store: expected { sqlite: path } or { postgres: url }, got ${String(target)}`);
  }
  try {
    if ("sqlite" in target) {
      const { SqliteStore } = await import("./sqlite-store.js");
      return SqliteStore.open(target.sqlite);
    }
    const { PostgresStore } = await import("./postgres-store.js");
    return await PostgresStore.open(target.postgres);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ConfigError(`cannot open the monitoring store (${describeTarget(target)}): ${why}`);
  }
}

/** A column of a table the plan fills: its name and its PostgreSQL type (for `unnest`). */
export type Column = readonly [name: string, pgType: "text" | "int" | "bigint" | "real"];

const TASK_COLUMNS: readonly Column[] = [
  ["run_id", "text"],
  ["task_id", "int"],
  ["task_func_name", "text"],
  ["task_depends", "text"],
  ["task_memoize", "int"],
  ["task_resources", "text"],
  ["task_time_invoked", "bigint"],
  ["task_status_name", "text"],
  ["task_executor", "text"],
  ["task_time_returned", "bigint"],
  ["task_fail_count", "int"],
];
/** Where a task row holds what a {@link TaskUpdate} sets (the last four columns above). */
const [STATE_AT, EXECUTOR_AT, RETURNED_AT, FAILED_AT] = [7, 8, 9, 10];

/** Inserted rows of each table (workflow and the task updates are handled apart). */
export const TABLES = {
  task: TASK_COLUMNS,
  status: [
    ["run_id", "text"],
    ["task_id", "int"],
    ["try_id", "int"],
    ["task_status_name", "text"],
    ["timestamp", "bigint"],
  ],
  try: [
    ["run_id", "text"],
    ["task_id", "int"],
    ["try_id", "int"],
    ["task_executor", "text"],
    ["hostname", "text"],
    ["block_id", "text"],
    ["worker", "text"],
    ["task_try_time_launched", "bigint"],
    ["task_try_time_running", "bigint"],
    ["task_try_time_returned", "bigint"],
    ["ok", "int"],
    ["error_name", "text"],
    ["error_message", "text"],
    ["error_stack", "text"],
  ],
  resource: [
    ["run_id", "text"],
    ["task_id", "int"],
    ["try_id", "int"],
    ["timestamp", "bigint"],
    ["pid", "int"],
    ["peak_rss_kib", "bigint"],
    ["cpu_user_ms", "real"],
    ["cpu_system_ms", "real"],
    ["wall_ms", "real"],
    ["exit_status", "int"],
  ],
  block: [
    ["run_id", "text"],
    ["executor_label", "text"],
    ["block_id", "text"],
    ["job_id", "text"],
    ["status", "text"],
    ["timestamp", "bigint"],
  ],
  node: [
    ["run_id", "text"],
    ["executor_label", "text"],
    ["manager_id", "text"],
    ["hostname", "text"],
    ["block_id", "text"],
    ["worker_count", "int"],
    ["cores", "int"],
    ["memory_mb", "int"],
    ["active", "int"],
    ["timestamp", "bigint"],
  ],
} as const satisfies Record<string, readonly Column[]>;

/** A table the plan inserts into. */
export type Table = keyof typeof TABLES;

/** Tables whose rows may arrive twice (a resent batch) and are then kept once. */
export const CONFLICT_KEYS: Partial<Record<Table, string>> = {
  task: "run_id, task_id",
  try: "run_id, task_id, try_id",
};

/**
 * Columns added to tables after their first release: a store file made before lacks them, and opening it for
 * writing adds them (nullable, so old rows read as "not known").
 */
export const ADDED_COLUMNS: readonly { table: Table; column: string; type: "BIGINT" }[] = [
  { table: "try", column: "task_try_time_running", type: "BIGINT" },
];

/** A value of a row cell, as both drivers bind it. */
export type Cell = string | number | null;

/** What a batch does to the `task` row of one task after its inserts. */
export interface TaskUpdate {
  run: string;
  task: number;
  /** The last state the batch reports, if any. */
  state: string | null;
  executor: string | null;
  /** Set when the batch reports a final state. */
  returned: number | null;
  /** Failed tries in the batch. */
  failed: number;
}

/**
 * One batch as rows: inserts per table, then workflow upserts and task updates. A task inserted by the batch
 * carries its updates in its row (most tasks begin and end within one batch: one insert instead of an insert,
 * an update and its index changes).
 */
export interface BatchPlan {
  workflows: WorkflowEvent[];
  rows: Record<Table, Cell[][]>;
  updates: TaskUpdate[];
}

/** INTEGER/BIGINT columns take whole numbers only (PostgreSQL refuses 1.5). */
const int = (v: number): number => Math.round(v);
const optInt = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : int(v));
const opt = (v: string | undefined): string | null => v ?? null;

/**
 * Turns events into rows, in the order a batch must apply them: inserts (task
 * rows before anything that updates them), then one update per task carrying
 * the batch's last state, executor, return time and failed-try count (folded
 * into the task's row when the batch inserts it).
 */
export function planBatch(events: readonly MonitorEvent[]): BatchPlan {
  const rows: Record<Table, Cell[][]> = { task: [], status: [], try: [], resource: [], block: [], node: [] };
  const inserted = new Map<string, Cell[]>();
  const workflows = new Map<string, WorkflowEvent>();
  const updates = new Map<string, TaskUpdate>();
  const update = (run: string, task: number): TaskUpdate => {
    const key = `${run}\0${int(task)}`;
    let u = updates.get(key);
    if (u === undefined) {
      u = { run, task: int(task), state: null, executor: null, returned: null, failed: 0 };
      updates.set(key, u);
    }
    return u;
  };
  for (const e of events) {
    switch (e.t) {
      case "workflow": {
        // Merged per run: one upsert each (PostgreSQL refuses to touch a row twice in one upsert).
        const prev = workflows.get(e.run);
        workflows.set(e.run, prev === undefined ? e : { ...prev, ...definedOnly(e) });
        break;
      }
      case "task": {
        const row = [
          e.run,
          int(e.task),
          e.app,
          e.depends === undefined || e.depends.length === 0 ? "[]" : JSON.stringify(e.depends),
          e.memoize ? 1 : 0,
          e.resources !== undefined && Object.keys(e.resources).length > 0 ? JSON.stringify(e.resources) : null,
          int(e.invoked),
          "pending",
          null,
          null,
          0,
        ];
        rows.task.push(row);
        inserted.set(`${e.run}\0${int(e.task)}`, row);
        break;
      }
      case "status": {
        rows.status.push([e.run, int(e.task), int(e.try), e.state, int(e.at)]);
        const u = update(e.run, e.task);
        u.state = e.state;
        if (e.executor !== undefined) u.executor = e.executor;
        if (FINAL_STATES.has(e.state as TaskState)) u.returned = int(e.at);
        break;
      }
      case "try": {
        rows.try.push([
          e.run,
          int(e.task),
          int(e.try),
          e.executor,
          opt(e.host),
          opt(e.block),
          opt(e.worker),
          int(e.launched),
          optInt(e.running),
          int(e.returned),
          e.ok ? 1 : 0,
          opt(e.error?.name),
          opt(e.error?.message),
          opt(e.error?.stack),
        ]);
        const r = e.resources;
        if (r !== undefined) {
          rows.resource.push([
            e.run,
            int(e.task),
            int(e.try),
            int(e.returned),
            int(r.pid),
            int(r.peakRssKiB),
            r.cpuUserMs,
            r.cpuSystemMs,
            r.wallMs,
            optInt(r.exitStatus),
          ]);
        }
        const u = update(e.run, e.task);
        u.executor ??= e.executor === "" ? null : e.executor;
        if (!e.ok) u.failed++;
        break;
      }
      case "block":
        rows.block.push([e.run, e.executor, e.block, opt(e.job), e.state, int(e.at)]);
        break;
      case "node":
        rows.node.push([
          e.run,
          e.executor,
          e.manager,
          e.host,
          e.block,
          int(e.workers),
          optInt(e.cores),
          optInt(e.memoryMB),
          e.active ? 1 : 0,
          int(e.at),
        ]);
        break;
    }
  }
  const rest: TaskUpdate[] = [];
  for (const [key, u] of updates) {
    const row = inserted.get(key);
    if (row === undefined) {
      rest.push(u);
      continue;
    }
    if (u.state !== null) row[STATE_AT] = u.state;
    row[EXECUTOR_AT] = u.executor;
    row[RETURNED_AT] = u.returned;
    row[FAILED_AT] = u.failed;
  }
  return { workflows: [...workflows.values()], rows, updates: rest };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The workflow upsert's values, in the order of {@link workflowUpsert}'s columns. */
export function workflowRow(w: WorkflowEvent): Cell[] {
  return [
    w.run,
    w.name,
    w.runDir,
    w.host,
    w.user,
    int(w.began),
    optInt(w.completed),
    optInt(w.tasksCompleted),
    optInt(w.tasksFailed),
  ];
}

/**
 * The workflow upsert, portable (SQLite 3.24+ and PostgreSQL): the end of a run
 * fills `time_completed` and the counts without touching the rest.
 */
export function workflowUpsert(param: (i: number) => string): string {
  const placeholders = Array.from({ length: 9 }, (_, i) => param(i + 1));
  return `INSERT INTO workflow (run_id, workflow_name, rundir, host, "user", time_began,
      time_completed, tasks_completed_count, tasks_failed_count)
    VALUES (${placeholders.join(", ")})
    ON CONFLICT (run_id) DO UPDATE SET
      time_completed = COALESCE(excluded.time_completed, workflow.time_completed),
      tasks_completed_count = COALESCE(excluded.tasks_completed_count, workflow.tasks_completed_count),
      tasks_failed_count = COALESCE(excluded.tasks_failed_count, workflow.tasks_failed_count)`;
}

/** The INSERT of a table's rows up to `VALUES`/`SELECT`, and its conflict clause. */
export function insertHead(table: Table): { head: string; tail: string } {
  const cols = TABLES[table].map(([n]) => n).join(", ");
  const key = CONFLICT_KEYS[table];
  return {
    head: `INSERT INTO ${table === "try" ? '"try"' : table} (${cols})`,
    tail: key === undefined ? "" : ` ON CONFLICT (${key}) DO NOTHING`,
  };
}
