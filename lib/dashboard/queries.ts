/**
 * The dashboard's queries over a monitoring store (a database opened by
 * `openStore`). Each answers one endpoint of {@link ./api.ts} with a bounded
 * amount of work: index seeks, keyset pages, capped windows and even samples,
 * so a run of a million tasks answers in well under a second. Arguments are
 * trusted (the server validates them).
 * @module
 */
import { allRuns, getTask, parseDepends, statusesOf, triesOf, type RunRow, type StoreDb } from "../monitoring/read.js";
import type { BlockHistory, DagSlice, RunOverview, RunSummary, TaskDetail, TaskFilter, TaskPage } from "./api.js";
import { appStateCounts, distinct, stateCounts, tryExtent } from "./query-util.js";

export { resourcePoints } from "./query-resources.js";
export { timeline } from "./query-timeline.js";

/** Tasks a DAG slice holds at most. */
export const DAG_SLICE_MAX = 2_000;
/** Dependents a task detail lists at most. */
const DEPENDENTS_MAX = 100;
/** Rows of each kind {@link blockHistory} returns at most. */
const HISTORY_MAX = 10_000;
/** Above this many tasks, an app's mean try time is estimated from this many tasks spread over its id range. */
const MEAN_SAMPLE = 500;

/**
 * Whether the store knows `runId` (a workflow row or any task): a cheap
 * check for answering 404.
 *
 * @example
 * ```ts
 * if (!hasRun(db, runId)) return notFound(`no run ${runId}`);
 * ```
 */
export function hasRun(db: StoreDb, runId: string): boolean {
  return (
    (
      db
        .prepare(
          `SELECT EXISTS (SELECT 1 FROM workflow WHERE run_id = @run) OR EXISTS (SELECT 1 FROM task WHERE run_id = @run) AS found`,
        )
        .get({ run: runId }) as { found: number }
    ).found !== 0
  );
}

const summary = (r: RunRow, states: Record<string, number>): RunSummary => ({
  runId: r.runId,
  name: r.name,
  host: r.host,
  user: r.user,
  began: r.began,
  completed: r.completed,
  states,
});

/**
 * Every run in the store, newest first, with its tasks counted by state.
 * Runs without a workflow row (crashed before the first flush) are listed
 * too, with empty name and host.
 *
 * @example
 * ```ts
 * const db = openStore(findStore());
 * for (const r of runSummaries(db)) console.log(r.runId, r.states);
 * ```
 */
export function runSummaries(db: StoreDb): RunSummary[] {
  return allRuns(db)
    .reverse()
    .map((r) => summary(r, stateCounts(db, r.runId)));
}

/**
 * One run's overview: its summary, apps (tasks by state, mean try time),
 * executors, the time span of its tries and how many workers ran them.
 * `undefined` for a run the store does not know.
 *
 * An app's `meanMs` is exact up to 500 tasks; above that it is estimated
 * from 500 of its tasks spread evenly over its id range (an exact mean
 * would join every try to its task: seconds on a million tasks).
 *
 * @example
 * ```ts
 * const o = runOverview(db, runId);
 * if (o) console.log(o.apps.map((a) => `${a.app}: ${a.tasks}`));
 * ```
 */
export function runOverview(db: StoreDb, runId: string): RunOverview | undefined {
  const row = allRuns(db).find((r) => r.runId === runId);
  if (row === undefined) return undefined;
  const byApp = appStateCounts(db, runId);
  const states: Record<string, number> = {};
  const apps = new Map<string, RunOverview["apps"][number]>();
  for (const r of byApp) {
    states[r.state] = (states[r.state] ?? 0) + r.n;
    let a = apps.get(r.app);
    if (a === undefined) apps.set(r.app, (a = { app: r.app, tasks: 0, states: {}, meanMs: null }));
    a.tasks += r.n;
    a.states[r.state] = r.n;
  }
  for (const a of apps.values()) a.meanMs = meanTryMs(db, runId, a.app, a.tasks);
  const span = tryExtent(db, runId);
  return {
    ...summary(row, states),
    runDir: row.runDir,
    apps: [...apps.values()].sort((a, b) => b.tasks - a.tasks || (a.app < b.app ? -1 : 1)),
    executors: distinct(db, "task", "task_executor", runId),
    firstLaunch: span.first,
    lastReturn: span.last,
    workers: distinct(db, "try", "worker", runId).length,
  };
}

/** Mean wall time of an app's ended tries: exact for small apps, else over tasks sampled evenly by id. */
function meanTryMs(db: StoreDb, runId: string, app: string, tasks: number): number | null {
  if (tasks <= MEAN_SAMPLE) {
    const r = db
      .prepare(
        `SELECT avg(y.task_try_time_returned - y.task_try_time_launched) AS mean
         FROM task t CROSS JOIN try y ON y.run_id = t.run_id AND y.task_id = t.task_id
         WHERE t.run_id = @run AND t.task_func_name = @app`,
      )
      .get({ run: runId, app }) as { mean: number | null };
    return r.mean;
  }
  const range = db
    .prepare(
      `SELECT (SELECT min(task_id) FROM task WHERE run_id = @run AND task_func_name = @app) AS lo,
              (SELECT max(task_id) FROM task WHERE run_id = @run AND task_func_name = @app) AS hi`,
    )
    .get({ run: runId, app }) as { lo: number; hi: number };
  // one statement (not one call per sampled task): the driver's per-call overhead would dominate. CROSS JOIN keeps
  // the sampled tasks the outer loop: without ANALYZE statistics (the writer never gathers them) the planner may
  // otherwise walk every try of the run through try_by_length, once per app
  return db
    .prepare(
      `WITH RECURSIVE step(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM step WHERE i + 1 < @n),
       picked(id) AS (
         SELECT DISTINCT (SELECT task_id FROM task WHERE run_id = @run AND task_func_name = @app
                            AND task_id >= @lo + CAST(step.i * @step AS INTEGER) ORDER BY task_id LIMIT 1)
         FROM step)
       SELECT avg(y.task_try_time_returned - y.task_try_time_launched)
       FROM picked CROSS JOIN try y ON y.run_id = @run AND y.task_id = picked.id`,
    )
    .pluck()
    .get({ run: runId, app, n: MEAN_SAMPLE, lo: range.lo, step: (range.hi - range.lo + 1) / MEAN_SAMPLE }) as
    number | null;
}

/**
 * A page of a run's tasks in id order, filtered by state and/or app, with
 * the number of tasks that pass the filters. Page on with `after: page.next`.
 *
 * @example
 * ```ts
 * let page = taskPage(db, runId, { state: "failed", limit: 50 });
 * while (page.next !== null) page = taskPage(db, runId, { state: "failed", limit: 50, after: page.next });
 * ```
 */
export function taskPage(db: StoreDb, runId: string, f: TaskFilter): TaskPage {
  const limit = f.limit ?? 100;
  const params = { run: runId, state: f.state ?? null, app: f.app ?? null, after: f.after ?? null, limit: limit + 1 };
  const both = f.state !== undefined && f.app !== undefined ? bothFilters(db, runId, f.state, f.app) : undefined;
  // `+` keeps a column from choosing the index: with both filters, the smaller one's index is walked in id order
  const where = [
    "t.run_id = @run",
    ...(f.state === undefined ? [] : [`${both?.walk === "app" ? "+" : ""}t.task_status_name = @state`]),
    ...(f.app === undefined ? [] : [`${both?.walk === "state" ? "+" : ""}t.task_func_name = @app`]),
  ].join(" AND ");
  const rows = db
    .prepare(
      `SELECT t.task_id AS taskId, t.task_func_name AS app, t.task_status_name AS state, t.task_executor AS executor,
              t.task_time_invoked AS invoked, t.task_time_returned AS returned, t.task_fail_count AS failCount,
              (SELECT y.task_try_time_returned - y.task_try_time_launched FROM try y
               WHERE y.run_id = t.run_id AND y.task_id = t.task_id ORDER BY y.try_id DESC LIMIT 1) AS lastTryMs
       FROM task t WHERE ${where} ${f.after === undefined ? "" : "AND t.task_id > @after"}
       ORDER BY t.task_id LIMIT @limit`,
    )
    .all(params) as TaskPage["tasks"];
  const total = both?.total ?? (db.prepare(`SELECT count(*) FROM task t WHERE ${where}`).pluck().get(params) as number);
  const more = rows.length > limit;
  if (more) rows.length = limit;
  return { tasks: rows, total, next: more ? rows[rows.length - 1]!.taskId : null };
}

/**
 * How to serve a page filtered by both state and app without an index on
 * the pair: walk the index of the filter with fewer tasks (`task_by_status_id`
 * or `task_by_func_id`) and test the other on each task. The count comes
 * from that walk too, unless fewer of the run's tasks are in other states
 * than in the app (a common app in the commonest state): then it is the
 * app's tasks less those of the app in the other states (`total`).
 */
function bothFilters(
  db: StoreDb,
  runId: string,
  state: string,
  app: string,
): { walk: "state" | "app"; total?: number } {
  const count = (where: string, p: Record<string, unknown>, cap = -1) =>
    db
      .prepare(`SELECT count(*) FROM (SELECT 1 FROM task WHERE run_id = @run AND ${where} LIMIT @cap)`)
      .pluck()
      .get({ run: runId, cap, ...p }) as number;
  const inApp = count("task_func_name = @app", { app });
  // capped: the commonest state's million entries need not be counted to know it is the bigger
  if (count("task_status_name = @state", { state }, inApp + 1) <= inApp) return { walk: "state" };
  const others = distinct(db, "task", "task_status_name", runId).filter((s) => s !== state);
  const inOthers = others.reduce((n, s) => n + count("task_status_name = @s", { s }, inApp + 1), 0);
  if (inOthers >= inApp) return { walk: "app" };
  const appInOthers = others.reduce(
    (n, s) => n + count("task_status_name = @s AND +task_func_name = @app", { s, app }),
    0,
  );
  return { walk: "app", total: inApp - appInOthers };
}

type TaskRef = TaskDetail["depends"][number];

/**
 * Everything about one task: its row, its dependencies and (up to 100)
 * dependents, every try with its error, remote stack and measured resources,
 * and its state changes. `undefined` when the run has no such task.
 *
 * Dependents: `task_depends` is JSON text, so they are found by scanning
 * the tasks with higher ids (a task can only wait for a future that existed
 * before it), up to the 100th found: ~0.2 s per million later tasks, paid
 * here rather than by an index the writer would update on every task.
 *
 * @example
 * ```ts
 * const t = taskDetail(db, runId, 42);
 * console.log(t?.tries.at(-1)?.errorStack);
 * ```
 */
export function taskDetail(db: StoreDb, runId: string, taskId: number): TaskDetail | undefined {
  const t = getTask(db, runId, taskId);
  if (t === undefined) return undefined;
  const ref = db.prepare(
    `SELECT task_id AS taskId, task_func_name AS app, task_status_name AS state FROM task WHERE run_id = ? AND task_id = ?`,
  );
  const depends = t.depends.map(
    (id) => (ref.get(runId, id) as TaskRef | undefined) ?? { taskId: id, app: "", state: "unknown" },
  );
  const s = String(taskId);
  const dependents = db
    .prepare(
      `SELECT task_id AS taskId, task_func_name AS app, task_status_name AS state FROM task
       WHERE run_id = @run AND task_id IN (
         SELECT task_id FROM task
         WHERE run_id = @run AND task_id > @id
           AND (instr(task_depends, @first) OR instr(task_depends, @middle) OR instr(task_depends, @last)
                OR task_depends = @only)
         ORDER BY task_id LIMIT ${DEPENDENTS_MAX})
       ORDER BY task_id`,
    )
    .all({ run: runId, id: taskId, first: `[${s},`, middle: `,${s},`, last: `,${s}]`, only: `[${s}]` }) as TaskRef[];
  const measured = new Map(
    (
      db
        .prepare(
          `SELECT try_id AS tryId, peak_rss_kib AS peakRssKiB, cpu_user_ms + cpu_system_ms AS cpuMs, wall_ms AS wallMs,
                  exit_status AS exitStatus
           FROM resource WHERE run_id = ? AND task_id = ?`,
        )
        .all(runId, taskId) as ({ tryId: number } & NonNullable<TaskDetail["tries"][number]["measured"]>)[]
    ).map(({ tryId, ...m }) => [tryId, m]),
  );
  return {
    taskId: t.taskId,
    app: t.app,
    state: t.state,
    executor: t.executor,
    memoize: t.memoize,
    resources: t.resources,
    invoked: t.invoked,
    returned: t.returned,
    failCount: t.failCount,
    depends,
    dependents,
    tries: triesOf(db, runId, taskId).map(({ taskId: _, ...y }) => ({
      ...y,
      measured: measured.get(y.tryId) ?? null,
    })),
    statuses: statusesOf(db, runId, taskId).map(({ tryId, state, at }) => ({ tryId, state, at })),
  };
}

/**
 * Tasks with ids in [from, to] (at most 2,000 from `from`; by default the
 * run's first 2,000) and the edges between them.
 *
 * @example
 * ```ts
 * const slice = dagSlice(db, runId);                 // the first 2,000 tasks
 * const next = dagSlice(db, runId, slice.to + 1);    // the next 2,000
 * ```
 */
export function dagSlice(db: StoreDb, runId: string, from?: number, to?: number): DagSlice {
  const ends = db
    .prepare(
      `SELECT (SELECT min(task_id) FROM task WHERE run_id = @run) AS lo, (SELECT max(task_id) FROM task WHERE run_id = @run) AS hi`,
    )
    .get({ run: runId }) as { lo: number | null; hi: number | null };
  const lo = from ?? ends.lo ?? 0;
  const hi = Math.min(to ?? Number.MAX_SAFE_INTEGER, lo + DAG_SLICE_MAX - 1);
  const rows = db
    .prepare(
      `SELECT task_id AS taskId, task_func_name AS app, task_status_name AS state, task_depends AS depends
       FROM task WHERE run_id = ? AND task_id BETWEEN ? AND ? ORDER BY task_id`,
    )
    .all(runId, lo, hi) as (TaskRef & { depends: string })[];
  const inSlice = new Set(rows.map((r) => r.taskId));
  const edges: [number, number][] = [];
  for (const r of rows) {
    for (const d of parseDepends(r.depends)) if (inSlice.has(d)) edges.push([d, r.taskId]);
  }
  return {
    nodes: rows.map(({ taskId, app, state }) => ({ taskId, app, state })),
    edges,
    from: lo,
    to: hi,
    minTaskId: ends.lo ?? 0,
    maxTaskId: ends.hi ?? -1,
  };
}

/**
 * The run's blocks' state changes and its nodes' joins and leaves, each in
 * time order (at most 10,000 of each).
 *
 * @example
 * ```ts
 * const { blocks } = blockHistory(db, runId);
 * console.log(blocks.filter((b) => b.state === "FAILED"));
 * ```
 */
export function blockHistory(db: StoreDb, runId: string): BlockHistory {
  const blocks = db
    .prepare(
      `SELECT executor_label AS executor, block_id AS block, job_id AS job, status AS state, timestamp AS at
       FROM block WHERE run_id = ? ORDER BY timestamp, rowid LIMIT ${HISTORY_MAX}`,
    )
    .all(runId) as BlockHistory["blocks"];
  const nodes = (
    db
      .prepare(
        `SELECT executor_label AS executor, manager_id AS manager, hostname AS host, block_id AS block,
                worker_count AS workers, active, timestamp AS at
         FROM node WHERE run_id = ? ORDER BY timestamp, rowid LIMIT ${HISTORY_MAX}`,
      )
      .all(runId) as (Omit<BlockHistory["nodes"][number], "active"> & { active: number })[]
  ).map((n) => ({ ...n, active: n.active !== 0 }));
  return { blocks, nodes };
}
