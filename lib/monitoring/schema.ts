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
  `CREATE INDEX IF NOT EXISTS task_by_status ON task (run_id, task_status_name)`,
  `CREATE INDEX IF NOT EXISTS task_by_func ON task (run_id, task_func_name)`,
  `CREATE INDEX IF NOT EXISTS task_by_invoked ON task (run_id, task_time_invoked)`,
  `CREATE INDEX IF NOT EXISTS status_by_task ON status (run_id, task_id)`,
  `CREATE INDEX IF NOT EXISTS try_by_time ON try (run_id, task_try_time_launched)`,
  `CREATE INDEX IF NOT EXISTS resource_by_task ON resource (run_id, task_id)`,
  `CREATE INDEX IF NOT EXISTS block_by_run ON block (run_id, executor_label, timestamp)`,
];
