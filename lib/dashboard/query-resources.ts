/**
 * The dashboard's resource plot data: measured tries, evenly sampled.
 * @module
 */
import type { StoreDb } from "../monitoring/read.js";
import type { ResourcePoints } from "./api.js";
import { distinct } from "./query-util.js";

/** Points a resource plot gets at most. */
const RESOURCE_POINTS_MAX = 5_000;

const POINT = `r.task_id, r.try_id, r.timestamp, r.peak_rss_kib, r.cpu_user_ms + r.cpu_system_ms, r.wall_ms`;

/**
 * A run's measured tries for plotting (all of them, or one app's): at most
 * 5,000 points, spread evenly over the task ids when there are more (one
 * index seek per point), with the number measured in all and the run's apps.
 *
 * @example
 * ```ts
 * const { points, total } = resourcePoints(db, runId, "flow.simulate");
 * const peakMiB = points.map(([, , , rss]) => rss / 1024);
 * ```
 */
export function resourcePoints(db: StoreDb, runId: string, app?: string): ResourcePoints {
  const params = { run: runId, app: app ?? null };
  // one app: its tasks through task_by_func_id, each joined to its measured tries (CROSS JOIN: in that order, even
  // without ANALYZE statistics)
  const source =
    app === undefined
      ? `resource r WHERE r.run_id = @run`
      : `task t CROSS JOIN resource r ON r.run_id = t.run_id AND r.task_id = t.task_id
         WHERE t.run_id = @run AND t.task_func_name = @app`;
  const total = (db.prepare(`SELECT count(*) FROM ${source}`).pluck().get(params) as number) ?? 0;
  const apps = distinct(db, "task", "task_func_name", runId);
  let points: ResourcePoints["points"];
  if (total <= RESOURCE_POINTS_MAX) {
    points = db
      .prepare(`SELECT ${POINT} FROM ${source} ORDER BY r.task_id, r.try_id`)
      .raw()
      .all(params) as ResourcePoints["points"];
  } else {
    // the id range from an index's ends, two seeks (min and max in one SELECT would scan the range)
    const range = db
      .prepare(
        app === undefined
          ? `SELECT (SELECT min(task_id) FROM resource WHERE run_id = @run) AS lo,
                    (SELECT max(task_id) FROM resource WHERE run_id = @run) AS hi`
          : `SELECT (SELECT min(task_id) FROM task WHERE run_id = @run AND task_func_name = @app) AS lo,
              (SELECT max(task_id) FROM task WHERE run_id = @run AND task_func_name = @app) AS hi`,
      )
      .get(params) as { lo: number; hi: number };
    const id = app === undefined ? "r.task_id" : "t.task_id";
    points = db
      .prepare(
        `WITH RECURSIVE step(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM step WHERE i + 1 < @n),
         -- the first measured try at or after each of n evenly spaced task ids; sparse ids (an app's tasks in
         -- clusters) land several steps on one try: kept once
         picked(rid) AS (
           SELECT DISTINCT (SELECT r.rowid FROM ${source} AND ${id} >= @lo + CAST(step.i * @step AS INTEGER)
                            ORDER BY ${id} LIMIT 1) FROM step)
         SELECT ${POINT} FROM picked JOIN resource r ON r.rowid = picked.rid ORDER BY r.task_id, r.try_id`,
      )
      .raw()
      .all({
        ...params,
        n: RESOURCE_POINTS_MAX,
        lo: range.lo,
        step: (range.hi - range.lo + 1) / RESOURCE_POINTS_MAX,
      }) as ResourcePoints["points"];
  }
  return { points, total, apps };
}
