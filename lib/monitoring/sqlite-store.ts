/**
 * The SQLite monitoring store: one file in WAL mode, so readers (`taskloom
 * trace`, a dashboard, `sqlite3`) never block the writer nor see half a batch.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import type { MonitorEvent } from "./events.js";
import { SCHEMA } from "./schema.js";
import type { EncodedBatch } from "./event-log.js";
import { RowSink, writeEncoded, type EncodedStatements } from "./sqlite-encoded.js";
import {
  ADDED_COLUMNS,
  TABLES,
  insertHead,
  planBatch,
  workflowRow,
  workflowUpsert,
  type Cell,
  type MonitoringStore,
  type Table,
} from "./store.js";

/** How long a write waits for a lock another connection holds (a checkpointing reader, a second writer), ms. */
const BUSY_TIMEOUT_MS = 30_000;

const UPDATE_TASK = `UPDATE task SET
    task_status_name = COALESCE(?, task_status_name),
    task_executor = COALESCE(?, task_executor),
    task_time_returned = COALESCE(?, task_time_returned),
    task_fail_count = task_fail_count + ?
  WHERE run_id = ? AND task_id = ?`;

/**
 * A monitoring store in a SQLite file (created with its directory if missing).
 *
 * @example
 * ```ts
 * const store = SqliteStore.open("runinfo/000/monitoring.db");
 * await store.write(events);
 * await store.close();
 * ```
 */
export class SqliteStore implements MonitoringStore {
  readonly #db: Database.Database;
  readonly #write: (events: readonly MonitorEvent[]) => void;
  readonly #writeEncoded: (batches: readonly { batch: EncodedBatch; strings: readonly string[] }[]) => void;

  private constructor(db: Database.Database) {
    this.#db = db;
    const insert = Object.fromEntries(
      (Object.keys(TABLES) as Table[]).map((t) => {
        const { head, tail } = insertHead(t);
        const qs = TABLES[t].map(() => "?").join(", ");
        return [t, db.prepare<Cell[]>(`${head} VALUES (${qs})${tail}`)];
      }),
    ) as Record<Table, Database.Statement<Cell[]>>;
    const upsertWorkflow = db.prepare<Cell[]>(workflowUpsert(() => "?"));
    const updateTask = db.prepare<Cell[]>(UPDATE_TASK);
    const writeRows = (events: readonly MonitorEvent[]): void => {
      const plan = planBatch(events);
      for (const w of plan.workflows) upsertWorkflow.run(...workflowRow(w));
      for (const t of Object.keys(TABLES) as Table[]) {
        const stmt = insert[t];
        for (const r of plan.rows[t]) stmt.run(...r);
      }
      for (const u of plan.updates) updateTask.run(u.state, u.executor, u.returned, u.failed, u.run, u.task);
    };
    // BEGIN IMMEDIATE takes the write lock up front, so a second writer waits (busy_timeout) instead of failing mid-batch.
    this.#write = db.transaction(writeRows).immediate.bind(null);
    const sink = (t: Table): RowSink => {
      const { head, tail } = insertHead(t);
      return new RowSink(db, head, TABLES[t].length, tail);
    };
    const statements: EncodedStatements = {
      task: sink("task"),
      status: sink("status"),
      try: sink("try"),
      resource: sink("resource"),
      update: updateTask,
      others: (events) => writeRows(events),
    };
    this.#writeEncoded = db
      .transaction((batches: readonly { batch: EncodedBatch; strings: readonly string[] }[]) => {
        try {
          for (const { batch, strings } of batches) writeEncoded(statements, batch, strings);
        } catch (e) {
          for (const s of [statements.task, statements.status, statements.try, statements.resource]) s.reset();
          throw e;
        }
      })
      .immediate.bind(null);
  }

  /** Opens (creating) the file and its schema; throws the driver's error if it cannot. */
  static open(file: string): SqliteStore {
    const dir = path.dirname(path.resolve(file));
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new Error(`cannot create its directory ${dir}: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
    const db = new Database(file);
    try {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const mode = db.pragma("journal_mode = WAL", { simple: true }) as string;
      if (mode.toLowerCase() !== "wal") throw new Error(`the file system refused WAL mode (journal_mode is ${mode})`);
      // NORMAL in WAL mode: a commit survives the process being killed (not a power cut), at a fraction of FULL's fsyncs.
      db.pragma("synchronous = NORMAL");
      db.transaction(() => {
        for (const ddl of SCHEMA) db.exec(ddl);
        for (const { table, column, type } of ADDED_COLUMNS) {
          const has = db.prepare(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`).get(table, column);
          if (has === undefined) db.exec(`ALTER TABLE "${table}" ADD COLUMN ${column} ${type}`);
        }
      }).immediate();
      return new SqliteStore(db);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Writes encoded batches (each with the string table as of it) in one transaction; see sqlite-encoded.ts. */
  writeEncoded(batches: readonly { batch: EncodedBatch; strings: readonly string[] }[]): Promise<void> {
    try {
      if (batches.length > 0) this.#writeEncoded(batches);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  write(events: readonly MonitorEvent[]): Promise<void> {
    try {
      if (events.length > 0) this.#write(events);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  close(): Promise<void> {
    if (this.#db.open) {
      // Folds the WAL back into the file so a copied monitoring.db alone holds everything.
      try {
        this.#db.pragma("wal_checkpoint(TRUNCATE)");
      } catch {
        // a reader still holds the WAL: it stays beside the file, which SQLite reads as one
      }
      this.#db.close();
    }
    return Promise.resolve();
  }
}
