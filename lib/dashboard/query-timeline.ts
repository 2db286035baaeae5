/**
 * The dashboard's timeline: tries overlapping a time window, per worker,
 * capped and evenly sampled over the window when there are too many.
 * @module
 */
import type { StoreDb } from "../monitoring/read.js";
import type { Timeline } from "./api.js";
import { runningColumn } from "../monitoring/read.js";
import { tryExtent } from "./query-util.js";

/** Bars a timeline answer holds at most. */
const TIMELINE_BARS_MAX = 20_000;
/** A truncated window is cut into this many slices, each given its share of the bars. */
const SLICES = 1_000;

type Bar = Timeline["workers"][number]["bars"][number];
type Row = { worker: string; bar: Bar };

/** A bar's columns; it starts when the worker started the try (launched is when the executor was handed it). */
const bar = (db: StoreDb) =>
  `coalesce(worker, task_executor) AS worker, task_id, try_id,
   coalesce(${runningColumn(db)}, task_try_time_launched) AS started, task_try_time_returned AS returned, ok`;

/**
 * The tries of a run overlapping [from, to] ms (by default the run's whole
 * extent), grouped by worker, each worker's bars in start order. At most
 * 20,000 bars: when more overlap, every part of the window still gets bars
 * in proportion to how many tries it holds, and `truncated` is true.
 *
 * Tries launched before `from` that run into the window count too: they
 * are looked for no further back than the run's longest try (an index seek
 * on `try_by_length`), so the look-back stays a short range of `try_by_time`.
 *
 * @example
 * ```ts
 * const whole = timeline(db, runId);
 * const zoomed = timeline(db, runId, whole.from, whole.from + 60_000);
 * ```
 */
export function timeline(db: StoreDb, runId: string, from?: number, to?: number): Timeline {
  const ext = tryExtent(db, runId);
  const cols = bar(db);
  const lo = from ?? ext.first ?? 0;
  const hi = to ?? ext.last ?? lo;
  if (ext.first === null) return { from: lo, to: hi, workers: [], truncated: false };
  const row = (r: [string, number, number, number, number, number]): Row => ({
    worker: r[0],
    bar: [r[1], r[2], r[3], r[4], r[5] === 0 ? 0 : 1],
  });
  const before = (
    db
      .prepare(
        `SELECT ${cols} FROM try WHERE run_id = @run AND task_try_time_launched >= @back
           AND task_try_time_launched < @lo AND task_try_time_returned >= @lo
         ORDER BY task_try_time_launched LIMIT @limit`,
      )
      .raw()
      .all({ run: runId, back: lo - (ext.longest ?? 0), lo, limit: TIMELINE_BARS_MAX + 1 }) as Parameters<
      typeof row
    >[0][]
  ).map(row);
  let truncated = before.length > TIMELINE_BARS_MAX;
  if (truncated) before.length = TIMELINE_BARS_MAX;
  const budget = TIMELINE_BARS_MAX - before.length;
  const inside = db
    .prepare(
      `SELECT ${cols} FROM try WHERE run_id = @run AND task_try_time_launched >= @a AND task_try_time_launched < @b
       ORDER BY task_try_time_launched LIMIT @limit`,
    )
    .raw();
  const count = db
    .prepare(
      `SELECT count(*) FROM (SELECT 1 FROM try WHERE run_id = @run
         AND task_try_time_launched >= @a AND task_try_time_launched < @b LIMIT @limit)`,
    )
    .pluck();
  const window = { run: runId, a: lo, b: hi + 1 };
  let rows: Row[];
  if ((count.get({ ...window, limit: budget + 1 }) as number) <= budget) {
    rows = (inside.all({ ...window, limit: budget }) as Parameters<typeof row>[0][]).map(row);
  } else {
    truncated = true;
    const n = Math.min(SLICES, hi + 1 - lo);
    const edges = Array.from({ length: n + 1 }, (_, i) => lo + Math.floor(((hi + 1 - lo) * i) / n));
    const counts = sliceCounts(db, runId, lo, hi + 1 - lo, n);
    const shares = fairShares(counts, budget);
    rows = [];
    shares.forEach((limit, i) => {
      if (limit === 0) return;
      const slice = inside.all({ run: runId, a: edges[i]!, b: edges[i + 1]!, limit }) as Parameters<typeof row>[0][];
      for (const r of slice) rows.push(row(r));
    });
  }
  const tracks = new Map<string, Bar[]>();
  for (const { worker, bar } of [...before, ...rows]) {
    if (bar[2] > hi) continue; // launched in the window but queued until after it
    let bars = tracks.get(worker);
    if (bars === undefined) tracks.set(worker, (bars = []));
    bars.push(bar);
  }
  const workers = [...tracks]
    .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }))
    // selected in launch order; drawn from when each started, which queueing can reorder
    .map(([worker, bars]) => ({ worker, bars: bars.sort((a, b) => a[2] - b[2]) }));
  return { from: lo, to: hi, workers, truncated };
}

/**
 * How many tries were launched in each of `n` slices of [lo, lo + width),
 * slice i starting at lo + floor(width * i / n), in one statement (a range
 * count of `try_by_time` per slice; one statement, not n, saves the
 * per-call overhead of the driver).
 */
function sliceCounts(db: StoreDb, runId: string, lo: number, width: number, n: number): number[] {
  const edge = (i: string) => `CAST(@lo AS INTEGER) + CAST(@width AS INTEGER) * ${i} / CAST(@n AS INTEGER)`;
  return db
    .prepare(
      `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < @n)
       SELECT (SELECT count(*) FROM try WHERE run_id = @run
                 AND task_try_time_launched >= ${edge("s.i")} AND task_try_time_launched < ${edge("(s.i + 1)")})
       FROM s`,
    )
    .pluck()
    .all({ run: runId, lo, width, n }) as number[];
}

/**
 * Splits `budget` over slices holding `counts` items: each gets an equal
 * share, and what a slice cannot use goes to the others (water filling).
 */
export function fairShares(counts: readonly number[], budget: number): number[] {
  const shares = counts.map(() => 0);
  let open = counts.flatMap((c, i) => (c > 0 ? [i] : []));
  let left = budget;
  while (left > 0 && open.length > 0) {
    const each = Math.max(1, Math.floor(left / open.length));
    const still: number[] = [];
    for (const i of open) {
      const take = Math.min(each, counts[i]! - shares[i]!, left);
      shares[i]! += take;
      left -= take;
      if (shares[i]! < counts[i]!) still.push(i);
      if (left === 0) break;
    }
    open = still;
  }
  return shares;
}
