/**
 * The monitoring store's schema: Parsl's table names (`workflow`, `task`,
 * `try`, `status`, `block`, `node`, `resource`) with taskloom's columns.
 * Times are INTEGER milliseconds since the epoch. The same DDL serves SQLite
 * and PostgreSQL (only portable types).
 * @module
 */

/** CREATE statements, in order. */
export const SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS workflow (
    run_id TEXT PRIMARY KEY,
    workflow_name TEXT NOT NULL,
    rundir TEXT NOT NULL,
    host TEXT NOT NULL,
    "user" TEXT NOT NULL,
    time_began BIGINT NOT NULL,
    time_completed BIGINT,
    tasks_completed_count INTEGER,
    tasks_failed_count INTEGER
  )`,
  `CREATE TABLE IF NOT EXISTS task (
    run_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    task_func_name TEXT NOT NULL,
    task_depends TEXT NOT NULL,
    task_executor TEXT,
    task_memoize INTEGER NOT NULL,
    task_resources TEXT,
    task_time_invoked BIGINT NOT NULL,
    task_time_returned BIGINT,
    task_fail_count INTEGER NOT NULL DEFAULT 0,
    task_status_name TEXT NOT NULL,
    PRIMARY KEY (run_id, task_id)
  )`,
  `CREATE TABLE IF NOT EXISTS try (
    run_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    try_id INTEGER NOT NULL,
    task_executor TEXT NOT NULL,
    hostname TEXT,
    block_id TEXT,
    worker TEXT,
    task_try_time_launched BIGINT NOT NULL,
    task_try_time_running BIGINT,
    task_try_time_returned BIGINT NOT NULL,
    ok INTEGER NOT NULL,
    error_name TEXT,
    error_message TEXT,
    error_stack TEXT,
    PRIMARY KEY (run_id, task_id, try_id)
  )`,
  `CREATE TABLE IF NOT EXISTS status (
    run_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    try_id INTEGER NOT NULL,
    task_status_name TEXT NOT NULL,
    timestamp BIGINT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS block (
    run_id TEXT NOT NULL,
    executor_label TEXT NOT NULL,
    block_id TEXT NOT NULL,
    job_id TEXT,
    status TEXT NOT NULL,
    timestamp BIGINT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS node (
    run_id TEXT NOT NULL,
    executor_label TEXT NOT NULL,
    manager_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    block_id TEXT NOT NULL,
    worker_count INTEGER NOT NULL,
    cores INTEGER,
    memory_mb INTEGER,
    active INTEGER NOT NULL,
    timestamp BIGINT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS resource (
    run_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    try_id INTEGER NOT NULL,
    timestamp BIGINT NOT NULL,
    pid INTEGER NOT NULL,
    peak_rss_kib INTEGER NOT NULL,
    cpu_user_ms REAL NOT NULL,
    cpu_system_ms REAL NOT NULL,
    wall_ms REAL NOT NULL,
    exit_status INTEGER
  )`,
  // Every index here is paid by the writer on every task (a b-tree insert, and a move on each state change), so the
  // set is the smallest that keeps each dashboard query (lib/dashboard/queries.ts) an index seek or short range on a
  // run of a million tasks. Prefixes of another index, and indexes a bounded scan can stand in for, are left out.
  `CREATE INDEX IF NOT EXISTS status_by_task ON status (run_id, task_id)`,
  `CREATE INDEX IF NOT EXISTS try_by_time ON try (run_id, task_try_time_launched)`,
  `CREATE INDEX IF NOT EXISTS resource_by_task ON resource (run_id, task_id)`,
  `CREATE INDEX IF NOT EXISTS block_by_run ON block (run_id, executor_label, timestamp)`,
  // Task pages filtered by state or by app in task id order (keyset paging), their counts, and the distinct states
  // and apps (one seek each). Both filters at once go through the smaller of the two and test the other.
  `CREATE INDEX IF NOT EXISTS task_by_status_id ON task (run_id, task_status_name, task_id)`,
  `CREATE INDEX IF NOT EXISTS task_by_func_id ON task (run_id, task_func_name, task_id)`,
  // The executors of a run, found by skipping through distinct values.
  `CREATE INDEX IF NOT EXISTS task_by_executor ON task (run_id, task_executor)`,
  // The longest try bounds the timeline's look-back and where the run's last return is looked for (try_by_time).
  `CREATE INDEX IF NOT EXISTS try_by_length ON try (run_id, (task_try_time_returned - task_try_time_launched))`,
  // Distinct workers (timeline tracks).
  `CREATE INDEX IF NOT EXISTS try_by_worker ON try (run_id, worker)`,
  `CREATE INDEX IF NOT EXISTS node_by_time ON node (run_id, timestamp)`,
];
