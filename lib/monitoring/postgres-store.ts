/**
 * The PostgreSQL monitoring store: the same tables as the SQLite file, shared
 * by several workflows (each its own `run_id`). A batch is one transaction of
 * a few statements whatever its size: each table's rows go in as one
 * `INSERT … SELECT FROM unnest(<column arrays>)`.
 * @module
 */
import pg from "pg";
import type { MonitorEvent } from "./events.js";
import { SCHEMA } from "./schema.js";
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

/** Serializes schema creation between workflows that start at once (CREATE … IF NOT EXISTS races in PostgreSQL). */
const SCHEMA_LOCK = 0x7461736b; // "task"
const CONNECT_TIMEOUT_MS = 10_000;

const INSERTS = Object.fromEntries(
  (Object.keys(TABLES) as Table[]).map((t) => {
    const { head, tail } = insertHead(t);
    const arrays = TABLES[t].map(([, type], i) => `$${i + 1}::${type}[]`).join(", ");
    return [t, `${head} SELECT * FROM unnest(${arrays})${tail}`];
  }),
) as Record<Table, string>;

const UPSERT_WORKFLOW = workflowUpsert((i) => `$${i}`);

const UPDATE_TASKS = `UPDATE task AS t SET
    task_status_name = COALESCE(u.state, t.task_status_name),
    task_executor = COALESCE(u.executor, t.task_executor),
    task_time_returned = COALESCE(u.returned, t.task_time_returned),
    task_fail_count = t.task_fail_count + u.failed
  FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::int[])
    AS u(run_id, task_id, state, executor, returned, failed)
  WHERE t.run_id = u.run_id AND t.task_id = u.task_id`;

/** Rows to column arrays, the shape `unnest` takes. */
function columns(rows: readonly Cell[][], width: number): Cell[][] {
  const cols: Cell[][] = Array.from({ length: width }, () => new Array<Cell>(rows.length));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let c = 0; c < width; c++) cols[c]![r] = row[c]!;
  }
  return cols;
}

/**
 * A monitoring store in a PostgreSQL database, reached through a small `pg` pool.
 *
 * @example
 * ```ts
 * const store = await PostgresStore.open("postgres://taskloom@127.0.0.1:5432/monitoring");
 * await store.write(events);
 * await store.close();
 * ```
 */
export class PostgresStore implements MonitoringStore {
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Connects and creates the schema; throws the driver's error if it cannot. */
  static async open(url: string): Promise<PostgresStore> {
    // One writer thread writes one batch at a time: a second connection only covers a reconnect.
    const pool = new pg.Pool({
      connectionString: url,
      max: 2,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: "taskloom-monitoring",
    });
    // An idle connection the server drops must not crash the thread; the next batch reconnects.
    pool.on("error", () => undefined);
    try {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
        for (const ddl of SCHEMA) await client.query(ddl);
        for (const { table, column, type } of ADDED_COLUMNS) {
          await client.query(`ALTER TABLE "${table}" ADD COLUMN IF NOT EXISTS ${column} ${type}`);
        }
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
      return new PostgresStore(pool);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw e;
    }
  }

  async write(events: readonly MonitorEvent[]): Promise<void> {
    if (events.length === 0) return;
    const plan = planBatch(events);
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      for (const w of plan.workflows) await client.query(UPSERT_WORKFLOW, workflowRow(w));
      for (const t of Object.keys(TABLES) as Table[]) {
        const rows = plan.rows[t];
        if (rows.length > 0) await client.query(INSERTS[t], columns(rows, TABLES[t].length));
      }
      if (plan.updates.length > 0) {
        const u = plan.updates;
        await client.query(UPDATE_TASKS, [
          u.map((x) => x.run),
          u.map((x) => x.task),
          u.map((x) => x.state),
          u.map((x) => x.executor),
          u.map((x) => x.returned),
          u.map((x) => x.failed),
        ]);
      }
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw e;
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: drop it rather than reuse it.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
