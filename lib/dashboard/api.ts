/**
 * The dashboard's JSON API: what `taskloom monitor` serves under `/api/` and
 * what its page reads. Every answer is bounded (pages, windows, caps), so a
 * store of millions of tasks answers as fast as a small one.
 * @module
 */
import type { TaskRow, TryRow } from "../monitoring/read.js";

/** `GET /api/runs`: every run in the store, newest first. */
export interface RunSummary {
  runId: string;
  name: string;
  host: string;
  user: string;
  began: number;
  /** null while running (or after a crash). */
  completed: number | null;
  /** Tasks by their latest state, e.g. `{ exec_done: 990, failed: 10 }`. */
  states: Record<string, number>;
}

/** `GET /api/runs/:run`: one run's overview. */
export interface RunOverview extends RunSummary {
  runDir: string;
  /** Per app: how many tasks, by state, and the mean wall time of its ended tries. */
  apps: { app: string; tasks: number; states: Record<string, number>; meanMs: number | null }[];
  executors: string[];
  /** First try launch and last try return, ms since the epoch (the timeline's extent); null before any try ended. */
  firstLaunch: number | null;
  lastReturn: number | null;
  /** Distinct workers that ran a try. */
  workers: number;
}

/** A row of the task table. */
export interface TaskListRow {
  taskId: number;
  app: string;
  state: string;
  executor: string | null;
  invoked: number;
  returned: number | null;
  failCount: number;
  /** Wall time of its last ended try, ms. */
  lastTryMs: number | null;
}

/** `GET /api/runs/:run/tasks?state=&app=&after=&limit=`: a page of tasks by id. */
export interface TaskPage {
  tasks: TaskListRow[];
  /** Tasks that pass the filters. */
  total: number;
  /** `after=` for the next page; null on the last. */
  next: number | null;
}

/** Filters of {@link TaskPage}. */
export interface TaskFilter {
  state?: string;
  app?: string;
  /** Only tasks with an id above this (keyset paging). */
  after?: number;
  /** Page size, 1–500. @default 100 */
  limit?: number;
}

/** `GET /api/runs/:run/tasks/:id`: everything about one task. */
export interface TaskDetail extends Omit<TaskRow, "depends"> {
  depends: { taskId: number; app: string; state: string }[];
  /** Tasks that waited for this one (at most 100). */
  dependents: { taskId: number; app: string; state: string }[];
  /** Its ended tries (the `try` table's columns; the error's stack is the remote one, as the worker saw it). */
  tries: (Omit<TryRow, "taskId"> & {
    measured: { peakRssKiB: number; cpuMs: number; wallMs: number; exitStatus: number | null } | null;
  })[];
  statuses: { tryId: number; state: string; at: number }[];
}

/** `GET /api/runs/:run/dag?from=&to=`: tasks with ids in [from, to] (at most 2,000) and their edges. */
export interface DagSlice {
  nodes: { taskId: number; app: string; state: string }[];
  /** `[from, to]`: `to` waited for `from`. Edges from tasks outside the slice are left out. */
  edges: [number, number][];
  from: number;
  to: number;
  /** Lowest task id of the run. */
  minTaskId: number;
  /** Highest task id of the run (to page through the DAG). */
  maxTaskId: number;
}

/** `GET /api/runs/:run/timeline?from=&to=`: tries overlapping [from, to] ms, per worker, at most 20,000 bars. */
export interface Timeline {
  from: number;
  to: number;
  workers: {
    worker: string;
    /** `[taskId, tryId, started, returned, ok (1/0)]` by start: when it started running, else when launched. */
    bars: [number, number, number, number, 0 | 1][];
  }[];
  /** True when more tries overlap the window than were sent: zoom in to see them all. */
  truncated: boolean;
}

/** `GET /api/runs/:run/resources?app=`: measured tries (at most 5,000, evenly sampled) for plots. */
export interface ResourcePoints {
  /** `[taskId, tryId, returned (ms epoch), peakRssKiB, cpuMs, wallMs]`. */
  points: [number, number, number, number, number, number][];
  /** Measured tries in all (points may be a sample). */
  total: number;
  apps: string[];
}

/** `GET /api/runs/:run/blocks`: blocks' state changes and nodes' joins and leaves, in time order. */
export interface BlockHistory {
  blocks: { executor: string; block: string; job: string | null; state: string; at: number }[];
  nodes: {
    executor: string;
    manager: string;
    host: string;
    block: string;
    workers: number;
    active: boolean;
    at: number;
  }[];
}

/** An error answer: `{ error }` with status 400 (bad parameter, naming it and what is allowed) or 404. */
export interface ApiError {
  error: string;
}
