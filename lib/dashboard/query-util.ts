/**
 * Small helpers the dashboard's queries share.
 * @module
 */
import type { StoreDb } from "../monitoring/read.js";

/**
 * Distinct non-null values of `column` (within `runId` when given), sorted,
 * found by hopping from one value to the next through an index on
 * `(run_id, column)` or `(column)`: one seek per value, however many rows.
 * `table` and `column` are trusted identifiers, never user input.
 */
export function distinct(db: StoreDb, table: string, column: string, runId?: string): string[] {
  const run = runId === undefined ? "" : "run_id = @run AND";
  return db
    .prepare(
      `WITH RECURSIVE hop(v) AS (
         SELECT (SELECT min(${column}) FROM ${table} WHERE ${run} ${column} IS NOT NULL)
         UNION ALL
         SELECT (SELECT min(${column}) FROM ${table} WHERE ${run} ${column} > hop.v) FROM hop WHERE hop.v IS NOT NULL
       ) SELECT v FROM hop WHERE v IS NOT NULL`,
    )
    .pluck()
    .all(runId === undefined ? {} : { run: runId }) as string[];
}

/**
 * A run's tasks counted by app and latest state, pairs with no tasks left
 * out, exactly, without an (app, state) index: each app's and each state's
 * total is a range count (`task_by_func_id`, `task_by_status_id`); the tasks
 * of every state but the commonest are grouped by app (a short range of
 * `task_by_status_id`), and the commonest state's share of an app is what
 * is left of the app's total. The work is the number of tasks not in the
 * commonest state: on a finished run, the failures.
 */
export function appStateCounts(db: StoreDb, runId: string): { app: string; state: string; n: number }[] {
  const states = Object.entries(stateCounts(db, runId)).sort((a, b) => b[1] - a[1]);
  if (states.length === 0) return [];
  const left = new Map(Object.entries(appCounts(db, runId)));
  const byApp = db.prepare(
    // `+task_func_name`: group after the state's range, never by walking task_by_func_id over the whole run
    `SELECT task_func_name AS app, count(*) AS n FROM task WHERE run_id = @run AND task_status_name = @state
     GROUP BY +task_func_name`,
  );
  const rows: { app: string; state: string; n: number }[] = [];
  for (const [state] of states.slice(1)) {
    for (const r of byApp.all({ run: runId, state }) as { app: string; n: number }[]) {
      rows.push({ app: r.app, state, n: r.n });
      left.set(r.app, (left.get(r.app) ?? 0) - r.n);
    }
  }
  const commonest = states[0]![0];
  for (const [app, n] of left) if (n > 0) rows.push({ app, state: commonest, n });
  return rows;
}

/** A run's tasks counted by app (range counts over `task_by_func_id`). */
function appCounts(db: StoreDb, runId: string): Record<string, number> {
  return rangeCounts(db, runId, "task_func_name");
}

/** A run's tasks counted by their latest state (range counts over `task_by_status_id`). */
export function stateCounts(db: StoreDb, runId: string): Record<string, number> {
  return rangeCounts(db, runId, "task_status_name");
}

/** Tasks per distinct value of `column` (a trusted identifier with an index on `(run_id, column)`), one range count each. */
function rangeCounts(db: StoreDb, runId: string, column: string): Record<string, number> {
  const rows = db
    .prepare(
      `SELECT v.value AS v, (SELECT count(*) FROM task WHERE run_id = @run AND ${column} = v.value) AS n
       FROM json_each(@values) v`,
    )
    .raw()
    .all({ run: runId, values: JSON.stringify(distinct(db, "task", column, runId)) }) as [string, number][];
  return Object.fromEntries(rows);
}

/** The first launch, last return and longest try of a run's ended tries (all null before one ended). */
export interface TryExtent {
  first: number | null;
  last: number | null;
  longest: number | null;
}

/**
 * {@link TryExtent} in four seeks and one short range: the first and last
 * launch (`try_by_time`), the longest try (`try_by_length`), and the
 * latest return among the tries launched no earlier than the last launch
 * minus the longest try, since any earlier one returned before that last
 * launch did.
 */
export function tryExtent(db: StoreDb, runId: string): TryExtent {
  return db
    .prepare(
      `WITH e AS (
         SELECT (SELECT min(task_try_time_launched) FROM try WHERE run_id = @run) AS first,
                (SELECT max(task_try_time_launched) FROM try WHERE run_id = @run) AS lastLaunch,
                (SELECT max(task_try_time_returned - task_try_time_launched) FROM try WHERE run_id = @run) AS longest)
       SELECT first, longest,
              (SELECT max(task_try_time_returned) FROM try
               WHERE run_id = @run AND task_try_time_launched >= e.lastLaunch - e.longest) AS last
       FROM e`,
    )
    .get({ run: runId }) as TryExtent;
}
