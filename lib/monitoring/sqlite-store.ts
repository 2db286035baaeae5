/**
 * The SQLite monitoring store: one file in WAL mode, so readers (`taskloom
 * trace`, a dashboard, `sqlite3`) never block the writer nor see half a batch.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import type { MonitorEvent } from "./events.js";
import { SCHEMA } from "./schema.js";
import type { EncodedBatch } from "./event-log.js";
import { RowSink, writeEncoded, type EncodedStatements } from "./sqlite-encoded.js";
import { appendRecord, readRecords, sessionAlive, sessionName, SpoolCorruptError, type SpoolBatch } from "./spool.js";
import {
  ADDED_COLUMNS,
  TABLES,
  insertHead,
  planBatch,
  workflowRow,
  workflowUpsert,
  type Cell,
  type MonitoringStore,
  transient,
  type Table,
  type Unspooled,
} from "./store.js";

/** How long a write waits for a lock another connection holds (a checkpointing reader, a second writer), ms. */
const BUSY_TIMEOUT_MS = 30_000;

const UPDATE_TASK = `UPDATE task SET
    task_status_name = COALESCE(?, task_status_name),
    task_executor = COALESCE(?, task_executor),
    task_time_returned = COALESCE(?, task_time_returned),
    task_fail_count = task_fail_count + ?
  WHERE run_id = ? AND task_id = ?`;

/** Spool files (spool.ts) and how much of each is in the tables. SQLite only: taskloom's, not in Parsl's schema. */
const SPOOL_DDL = `CREATE TABLE IF NOT EXISTS spool (
    file TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    done_bytes INTEGER NOT NULL
  )`;

interface SpoolRow {
  file: string;
  session: string;
  done_bytes: number;
}

/** A synchronous call as the interface's promise (the driver is synchronous; callers await either way). */
function settled<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

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
  readonly #dir: string;
  readonly #spoolName: string;
  readonly #session = sessionName(randomUUID());
  /** This store's spool file once it has one: its descriptor, its length, and how much of it is in the tables. */
  #mine: { name: string; fd: number; end: number; done: number } | undefined;
  readonly #spoolRows: Database.Statement;
  readonly #addSpool: Database.Statement<[string, string]>;
  readonly #setDone: Database.Statement<[number, string]>;
  readonly #dropSpool: Database.Statement<[string]>;
  readonly #writeAll: (batches: readonly { batch: EncodedBatch; strings: readonly string[] }[]) => void;

  private constructor(db: Database.Database, file: string) {
    this.#db = db;
    this.#dir = path.dirname(path.resolve(file));
    this.#spoolName = `${path.basename(file)}-spool-`;
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
    const writeAll = (batches: readonly { batch: EncodedBatch; strings: readonly string[] }[]): void => {
      try {
        for (const { batch, strings } of batches) writeEncoded(statements, batch, strings);
      } catch (e) {
        for (const s of [statements.task, statements.status, statements.try, statements.resource]) s.reset();
        throw e;
      }
    };
    this.#writeEncoded = db.transaction(writeAll).immediate.bind(null);
    this.#writeAll = writeAll;
    this.#spoolRows = db.prepare("SELECT file, session, done_bytes FROM spool ORDER BY rowid");
    this.#addSpool = db.prepare("INSERT INTO spool (file, session, done_bytes) VALUES (?, ?, 0)");
    this.#setDone = db.prepare("UPDATE spool SET done_bytes = ? WHERE file = ?");
    this.#dropSpool = db.prepare("DELETE FROM spool WHERE file = ?");
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
        db.exec(SPOOL_DDL);
        for (const { table, column, type } of ADDED_COLUMNS) {
          const has = db.prepare(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`).get(table, column);
          if (has === undefined) db.exec(`ALTER TABLE "${table}" ADD COLUMN ${column} ${type}`);
        }
      }).immediate();
      return new SqliteStore(db, file);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /** Writes encoded batches (each with the string table as of it) in one transaction; see sqlite-encoded.ts. */
  writeEncoded(batches: readonly { batch: EncodedBatch; strings: readonly string[] }[]): Promise<void> {
    return settled(() => {
      if (batches.length > 0) this.#writeEncoded(batches);
    });
  }

  /** Appends batches to this store's spool file (made, and named in the `spool` table, on first use). */
  spool(batches: readonly SpoolBatch[]): Promise<void> {
    return settled(() => {
      if (this.#mine === undefined) {
        const name = this.#spoolName + randomUUID().slice(0, 8);
        // named before it exists: a file no row names is one whose batches are all in the tables
        this.#db.transaction(() => this.#addSpool.run(name, this.#session)).immediate();
        this.#mine = { name, fd: fs.openSync(path.join(this.#dir, name), "a"), end: 0, done: 0 };
      }
      const m = this.#mine;
      const start = m.end;
      try {
        for (const b of batches) m.end += appendRecord(m.fd, b);
      } catch (e) {
        // all or none: the caller writes them another way
        fs.ftruncateSync(m.fd, (m.end = start));
        throw e;
      }
    });
  }

  /**
   * Writes the oldest spooled batches into the tables: those of a writer that died first, then this one's. A group
   * that fails for another reason than a lock is tried one batch at a time, and a batch that fails alone is skipped
   * and reported: it must not block the ones after it.
   */
  unspool(maxEvents: number): Promise<Unspooled> {
    return settled(() => this.unspoolNow(maxEvents));
  }

  /** {@link SqliteStore.unspool}, synchronously (a reader finishing a dead writer's spool, read.ts). */
  unspoolNow(maxEvents: number): Unspooled {
    let r: Unspooled;
    try {
      r = this.#unspoolOnce(maxEvents, undefined);
    } catch (e) {
      if (transient(e)) throw e;
      try {
        r = this.#unspoolOnce(1, undefined);
      } catch (e1) {
        if (transient(e1)) throw e1;
        r = this.#unspoolOnce(1, e1);
      }
    }
    const m = this.#mine;
    if (m !== undefined && m.done === m.end && m.end > 0) {
      // all in the tables: start the file again (its row set back after, so a crash between reads past its end)
      fs.ftruncateSync(m.fd, 0);
      m.end = m.done = 0;
      try {
        this.#db.transaction(() => this.#setDone.run(0, m.name)).immediate();
      } catch {
        // its row still says where the old end was: the next batches go to a new file
        fs.closeSync(m.fd);
        this.#mine = undefined;
      }
    }
    return { ...r, more: this.spooled() };
  }

  /**
   * One transaction: the next records of the first spool file with work (a dead writer's, else this store's)
   * into the tables, and its done mark past them; `skip`: the first record failed alone with it, step over it.
   */
  #unspoolOnce(maxEvents: number, skip: unknown): Unspooled {
    let unlink: string | undefined;
    // how far this store's own file is in the tables, once they are committed
    let done: number | undefined;
    let lost = false;
    const r = this.#db
      .transaction((): Unspooled => {
        const none: Unspooled = { upTo: 0, failed: [], more: false };
        const rows = this.#spoolRows.all() as SpoolRow[];
        const m = this.#mine;
        const own = m !== undefined && m.done < m.end ? rows.find((x) => x.file === m.name) : undefined;
        if (m !== undefined && m.done < m.end && own === undefined) {
          // another process took this store's spool for a dead writer's: what it had not written is gone
          lost = true;
          const message = `the spool file ${m.name} was taken over by another process; ${m.end - m.done} bytes of batches are not in the tables`;
          return { ...none, failed: [{ seq: 0, message }] };
        }
        const row = rows.find((x) => x.file !== m?.name && !sessionAlive(x.session)) ?? own;
        if (row === undefined) return none;
        const mine = row.file === m?.name;
        const file = path.join(this.#dir, row.file);
        let records: ReturnType<typeof readRecords>;
        try {
          // this store's own file: what it knows it wrote is the truth (its row only matters after a crash)
          records = fs.existsSync(file) ? readRecords(file, mine ? m.done : row.done_bytes, maxEvents) : [];
        } catch (e) {
          // not a record where one should be: the rest of the file cannot be read (a file that cannot be opened
          // is another matter, and fails the call)
          if (!(e instanceof SpoolCorruptError)) throw e;
          const size = fs.statSync(file).size;
          if (mine) done = size;
          this.#setDone.run(size, row.file);
          return { ...none, failed: [{ seq: 0, message: `${e.message}: skipped to its end` }] };
        }
        if (records.length === 0) {
          if (mine) {
            // this store wrote more than is there: the file was removed or cut short under it
            lost = true;
            const message = `the spool file ${row.file} lost ${m.end - m.done} bytes of batches before they were in the tables`;
            return { ...none, failed: [{ seq: 0, message }] };
          }
          // a dead writer's file whose whole records are all in: its unfinished last one (if any) is dropped
          this.#dropSpool.run(row.file);
          unlink = file;
          return none;
        }
        const last = records[records.length - 1]!;
        if (skip !== undefined) {
          this.#setDone.run(last.end, row.file);
          if (mine) done = last.end;
          const why = skip instanceof Error ? skip.message : JSON.stringify(skip);
          const seq = mine ? last.seq : 0;
          const whose = mine ? "" : " (left by a writer that died)";
          return {
            ...none,
            upTo: seq,
            failed: [{ seq, message: `a spooled batch could not be written${whose}: ${why}` }],
          };
        }
        this.#writeAll(records.map((x) => ({ batch: x.batch, strings: x.batch.strings })));
        this.#setDone.run(last.end, row.file);
        if (mine) done = last.end;
        return { ...none, upTo: mine ? last.seq : 0 };
      })
      .immediate();
    const m = this.#mine;
    if (m !== undefined && done !== undefined) m.end = Math.max(m.end, (m.done = done));
    if (m !== undefined && lost) {
      fs.closeSync(m.fd);
      this.#mine = undefined;
    }
    if (unlink !== undefined) fs.rmSync(unlink, { force: true });
    return r;
  }

  /** Whether batches wait in a spool: this store's, or a dead writer's. */
  spooled(): boolean {
    const m = this.#mine;
    if (m !== undefined && m.done < m.end) return true;
    return (this.#spoolRows.all() as SpoolRow[]).some((x) => x.file !== m?.name && !sessionAlive(x.session));
  }

  write(events: readonly MonitorEvent[]): Promise<void> {
    return settled(() => {
      if (events.length > 0) this.#write(events);
    });
  }

  close(): Promise<void> {
    const m = this.#mine;
    if (m !== undefined && this.#db.open) {
      // all in the tables: the file goes; if not (a write failed), it stays for the next reader (read.ts)
      fs.closeSync(m.fd);
      this.#mine = undefined;
      if (m.done === m.end) {
        try {
          this.#db.transaction(() => this.#dropSpool.run(m.name)).immediate();
          fs.rmSync(path.join(this.#dir, m.name), { force: true });
        } catch {
          // named but empty: the next reader drops it
        }
      }
    }
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
