/**
 * Read-only queries over a monitoring store file (the SQLite database the
 * monitor writes at `runinfo/NNN/monitoring.db`), for `taskloom trace` and
 * `taskloom explain`. Opened read-only: reading never blocks or changes the
 * writer, and works while a workflow is still running.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";
import { numberedEntries } from "../dataflow/run-dir.js";
import { ConfigError } from "../errors.js";
import { sessionAlive } from "./spool.js";

const STORE_FILE = "monitoring.db";

/**
 * The store file to read: `given` itself, `given/monitoring.db` for a run
 * directory, the newest `given/NNN/monitoring.db` for a `runinfo` directory;
 * with nothing given, the newest `./runinfo/NNN/monitoring.db`.
 *
 * @throws ConfigError naming the path that has no store.
 * @example
 * ```ts
 * findStore();                    // "/work/flow/runinfo/004/monitoring.db"
 * findStore("runinfo/002");       // "/work/flow/runinfo/002/monitoring.db"
 * ```
 */
export function findStore(given?: string, cwd = process.cwd()): string {
  const target = path.resolve(cwd, given ?? "runinfo");
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    throw new ConfigError(
      given === undefined
        ? `no monitoring store: ${target} does not exist (run a workflow with \`monitoring: true\`, or name a monitoring.db)`
        : `no such file or directory: ${target}`,
    );
  }
  if (stat.isFile()) return target;
  const direct = path.join(target, STORE_FILE);
  if (fs.existsSync(direct)) return direct;
  const runs = numberedEntries(target).filter((n) => fs.existsSync(path.join(target, n, STORE_FILE)));
  if (runs.length > 0) return path.join(target, runs[runs.length - 1]!, STORE_FILE);
  throw new ConfigError(
    `no ${STORE_FILE} in ${target} nor in its numbered run directories (was the workflow run with \`monitoring: true\`?)`,
  );
}

/**
 * Writes into the tables the batches a writer that died left in the store's spool (spool.ts), so a reader sees
 * everything the workflow recorded. A running writer's spool is its own to finish. Never throws: what could not be
 * done comes back as warnings (a store on a read-only disk, a spooled batch that cannot be written).
 *
 * @example
 * ```ts
 * const file = findStore();
 * for (const w of await finishSpool(file)) console.warn(w);
 * const db = openStore(file);
 * ```
 */
export async function finishSpool(file: string): Promise<string[]> {
  const Database = createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  let dead: boolean;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare("SELECT session FROM spool").all() as { session: string }[];
      dead = rows.some((r) => !sessionAlive(r.session));
    } finally {
      db.close();
    }
  } catch {
    return []; // no spool (or no store: openStore says so)
  }
  if (!dead) return [];
  const warnings: string[] = [];
  try {
    const { SqliteStore } = await import("./sqlite-store.js");
    const store = SqliteStore.open(file);
    try {
      while (store.spooled()) for (const f of store.unspoolNow(50_000).failed) warnings.push(f.message);
    } finally {
      await store.close();
    }
  } catch (e) {
    warnings.push(
      `${file}: the batches a stopped workflow left in its spool are not all in the tables: ${(e as Error).message}`,
    );
  }
  return warnings;
}

/** A store opened for reading. */
export type StoreDb = BetterSqlite3.Database;

/**
 * Opens a store file read-only.
 *
 * @throws ConfigError when the file is not a monitoring store.
 * @example
 * ```ts
 * const db = openStore(findStore());
 * console.log(listRuns(db));
 * db.close();
 * ```
 */
export function openStore(file: string): StoreDb {
  // loaded on demand: only trace/explain need the native module
  const Database = createRequire(import.meta.url)("better-sqlite3") as typeof BetterSqlite3;
  let db: StoreDb | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    // pages read through the OS page cache instead of copied into SQLite's: halves the first (cold) queries' times
    db.pragma("mmap_size = 1073741824");
    db.prepare("SELECT 1 FROM task LIMIT 1").get();
  } catch (e) {
    db?.close();
    throw new ConfigError(`${file} is not a taskloom monitoring store: ${(e as Error).message}`);
  }
  return db;
}

/** A row of the `workflow` table. */
export interface RunRow {
  runId: string;
  name: string;
  runDir: string;
  host: string;
  user: string;
  began: number;
  completed: number | null;
  tasksCompleted: number | null;
  tasksFailed: number | null;
}

/** Runs recorded in the store, oldest first. */
export function listRuns(db: StoreDb): RunRow[] {
  return db
    .prepare(
      `SELECT run_id AS runId, workflow_name AS name, rundir AS runDir, host, "user" AS user,
              time_began AS began, time_completed AS completed,
              tasks_completed_count AS tasksCompleted, tasks_failed_count AS tasksFailed
       FROM workflow ORDER BY time_began, run_id`,
    )
    .all() as RunRow[];
}

/**
 * Every run in the store, oldest first: its workflow row, or for a run whose
 * row was never written (a crash before the first flush) a stand-in named ""
 * and dated by its first task's call.
 *
 * @example
 * ```ts
 * for (const r of allRuns(db)) console.log(r.runId, r.name || "(no workflow row)");
 * ```
 */
export function allRuns(db: StoreDb): RunRow[] {
  const runs = listRuns(db);
  const known = new Set(runs.map((r) => r.runId));
  // the store's run ids hop by hop through the primary key (one seek per run, however many tasks), each dated by
  // its first task's call (another seek)
  const orphans = db
    .prepare(
      `WITH RECURSIVE hop(run) AS (
         SELECT (SELECT min(run_id) FROM task)
         UNION ALL
         SELECT (SELECT min(run_id) FROM task WHERE run_id > hop.run) FROM hop WHERE hop.run IS NOT NULL)
       SELECT run AS runId,
              (SELECT task_time_invoked FROM task WHERE run_id = hop.run ORDER BY task_id LIMIT 1) AS began
       FROM hop WHERE run IS NOT NULL`,
    )
    .all() as { runId: string; began: number }[];
  for (const o of orphans) {
    if (known.has(o.runId)) continue;
    runs.push({
      runId: o.runId,
      name: "",
      runDir: "",
      host: "",
      user: "",
      began: o.began,
      completed: null,
      tasksCompleted: null,
      tasksFailed: null,
    });
  }
  return runs.sort((a, b) => a.began - b.began || (a.runId < b.runId ? -1 : 1));
}

/**
 * The run to look at: `runId` if given (it must be in the store), else the
 * newest. Runs whose workflow row was never written (a crash before the
 * first flush) are found through their tasks.
 *
 * @throws ConfigError when the store has no such run (naming the ones it has).
 */
export function resolveRun(db: StoreDb, runId?: string): RunRow {
  const runs = allRuns(db);
  if (runs.length === 0) throw new ConfigError(`the monitoring store ${db.name} has no runs yet`);
  if (runId === undefined) return runs.reduce((a, b) => (b.began >= a.began ? b : a));
  const run = runs.find((r) => r.runId === runId);
  if (run === undefined) {
    throw new ConfigError(`no run ${runId} in ${db.name}; it has: ${runs.map((r) => r.runId).join(", ")}`);
  }
  return run;
}

/** A row of the `task` table, decoded. */
export interface TaskRow {
  taskId: number;
  app: string;
  depends: number[];
  executor: string | null;
  memoize: boolean;
  /** What it asked for (cores, memory MB, …), `{}` if nothing. */
  resources: Record<string, number>;
  invoked: number;
  returned: number | null;
  failCount: number;
  state: string;
}

interface RawTask {
  taskId: number;
  app: string;
  depends: string;
  executor: string | null;
  memoize: number;
  resources: string | null;
  invoked: number;
  returned: number | null;
  failCount: number;
  state: string;
}

const TASK_COLUMNS = `task_id AS taskId, task_func_name AS app, task_depends AS depends, task_executor AS executor,
  task_memoize AS memoize, task_resources AS resources, task_time_invoked AS invoked,
  task_time_returned AS returned, task_fail_count AS failCount, task_status_name AS state`;

/** The task ids a `task_depends` text names: `"[1,2]"` (JSON) or `"1,2"` (Parsl's comma list). */
export function parseDepends(s: string): number[] {
  return (s.match(/\d+/g) ?? []).map(Number);
}

function parseResources(s: string | null): Record<string, number> {
  if (s === null || s.trim() === "") return {};
  try {
    const v = JSON.parse(s) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, number>) : {};
  } catch {
    return {};
  }
}

function decodeTask(r: RawTask): TaskRow {
  return {
    ...r,
    depends: parseDepends(r.depends),
    memoize: r.memoize !== 0,
    resources: parseResources(r.resources),
  };
}

/** One task of a run, or `undefined`. */
export function getTask(db: StoreDb, runId: string, taskId: number): TaskRow | undefined {
  const r = db.prepare(`SELECT ${TASK_COLUMNS} FROM task WHERE run_id = ? AND task_id = ?`).get(runId, taskId) as
    RawTask | undefined;
  return r === undefined ? undefined : decodeTask(r);
}

/** A row of the `try` table. */
export interface TryRow {
  taskId: number;
  tryId: number;
  executor: string;
  host: string | null;
  block: string | null;
  worker: string | null;
  launched: number;
  /** When its worker started it; null if not known (or a store from before the column). */
  running: number | null;
  returned: number;
  ok: boolean;
  errorName: string | null;
  errorMessage: string | null;
  errorStack: string | null;
}

const RUNNING = new WeakMap<StoreDb, string>();

/**
 * The SQL for when a try started running: `task_try_time_running`, or
 * `NULL` in a store written before that column existed (read-only, so
 * never migrated until a workflow writes to it again).
 */
export function runningColumn(db: StoreDb): string {
  let sql = RUNNING.get(db);
  if (sql === undefined) {
    const has = db.prepare(`SELECT 1 FROM pragma_table_info('try') WHERE name = 'task_try_time_running'`).get();
    RUNNING.set(db, (sql = has === undefined ? "NULL" : "task_try_time_running"));
  }
  return sql;
}

/** The `try` columns as {@link TryRow} names them, qualified by `p` (a table alias and dot, or ""). */
const tryColumns = (db: StoreDb, p: string) =>
  `${p}task_id AS taskId, ${p}try_id AS tryId, ${p}task_executor AS executor, ${p}hostname AS host,
   ${p}block_id AS block, ${p}worker AS worker, ${p}task_try_time_launched AS launched,
   ${runningColumn(db) === "NULL" ? "NULL" : `${p}task_try_time_running`} AS running,
   ${p}task_try_time_returned AS returned, ${p}ok AS ok, ${p}error_name AS errorName,
   ${p}error_message AS errorMessage, ${p}error_stack AS errorStack`;

/** The ended tries of one task, in order. */
export function triesOf(db: StoreDb, runId: string, taskId: number): TryRow[] {
  return (
    db
      .prepare(`SELECT ${tryColumns(db, "")} FROM try WHERE run_id = ? AND task_id = ? ORDER BY try_id`)
      .all(runId, taskId) as (Omit<TryRow, "ok"> & { ok: number })[]
  ).map((t) => ({ ...t, ok: t.ok !== 0 }));
}

/** A try with its task's app name and measured resources, as {@link iterateTries} yields it. */
export interface TrySlice extends TryRow {
  app: string;
  /** From the `resource` table, when the try was measured. */
  peakRssKiB: number | null;
  cpuMs: number | null;
  wallMs: number | null;
}

/**
 * Every ended try of a run with its app, by launch time, streamed from the
 * database (constant memory for any number of tries). The connection is
 * busy until the iteration ends.
 */
export function* iterateTries(db: StoreDb, runId: string): Generator<TrySlice> {
  const stmt = db.prepare(
    `SELECT ${tryColumns(db, "y.")}, t.task_func_name AS app, r.peak_rss_kib AS peakRssKiB,
            r.cpu_user_ms + r.cpu_system_ms AS cpuMs, r.wall_ms AS wallMs
     FROM try y
     LEFT JOIN task t ON t.run_id = y.run_id AND t.task_id = y.task_id
     LEFT JOIN resource r ON r.run_id = y.run_id AND r.task_id = y.task_id AND r.try_id = y.try_id
     WHERE y.run_id = ? ORDER BY y.task_try_time_launched`,
  );
  for (const r of stmt.iterate(runId) as IterableIterator<Omit<TrySlice, "ok"> & { ok: number; app: string | null }>) {
    yield { ...r, ok: r.ok !== 0, app: r.app ?? `task ${r.taskId}` };
  }
}

/** A row of the `status` table. */
export interface StatusRow {
  taskId: number;
  tryId: number;
  state: string;
  at: number;
}

/** State transitions of one task, in order. */
export function statusesOf(db: StoreDb, runId: string, taskId: number): StatusRow[] {
  return db
    .prepare(
      `SELECT task_id AS taskId, try_id AS tryId, task_status_name AS state, timestamp AS at
       FROM status WHERE run_id = ? AND task_id = ? ORDER BY timestamp, rowid`,
    )
    .all(runId, taskId) as StatusRow[];
}

/** The latest record of one node (htex manager). */
export interface NodeRow {
  executor: string;
  manager: string;
  host: string;
  block: string;
  workers: number;
  cores: number | null;
  memoryMB: number | null;
  active: boolean;
  at: number;
}

/** Every node the run has seen, as its latest record says (`active` false once it left). */
export function nodesOf(db: StoreDb, runId: string): NodeRow[] {
  const rows = db
    .prepare(
      `SELECT executor_label AS executor, manager_id AS manager, hostname AS host, block_id AS block,
              worker_count AS workers, cores, memory_mb AS memoryMB, active, timestamp AS at
       FROM node WHERE run_id = ? ORDER BY timestamp, rowid`,
    )
    .all(runId) as (Omit<NodeRow, "active"> & { active: number })[];
  const latest = new Map<string, NodeRow>();
  for (const r of rows) latest.set(`${r.executor}\0${r.manager}`, { ...r, active: r.active !== 0 });
  return [...latest.values()];
}
