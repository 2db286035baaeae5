/**
 * What the kernel and executors tell the monitoring store: plain records,
 * batched off the hot path and written by the store's writer. Times are
 * milliseconds since the epoch.
 * @module
 */

/** Per-try resource use measured on the worker (TaskVine's resource monitor). */
export interface ResourcesMeasured {
  /** Peak resident memory of the task (shell apps: its whole process tree), KiB. */
  peakRssKiB: number;
  /** CPU time in user and system mode, ms (shell apps: the process tree's). */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Wall time of the task body, ms. */
  wallMs: number;
  /** Exit status of a shell app's command. */
  exitStatus?: number;
  /** The worker's pid. */
  pid: number;
}

/** One workflow run (`workflow` table). */
export interface WorkflowEvent {
  t: "workflow";
  run: string;
  name: string;
  runDir: string;
  host: string;
  user: string;
  began: number;
  /** Set when the run ends, with the final counts. */
  completed?: number;
  tasksCompleted?: number;
  tasksFailed?: number;
}

/** A task was submitted (`task` table). */
export interface TaskEvent {
  t: "task";
  run: string;
  task: number;
  app: string;
  /** Ids of the tasks whose futures it waits for. */
  depends: number[];
  invoked: number;
  memoize: boolean;
  /** The resources it asked for (cores, memory MB, gpus, …), if any. */
  resources?: Record<string, number>;
}

/** A state transition (`status` table; the last one is also the task's `task_status_name`). */
export interface StatusEvent {
  t: "status";
  run: string;
  task: number;
  /** Try number, from 0. */
  try: number;
  state: string;
  at: number;
  /** Executor label, once chosen. */
  executor?: string;
}

/** One try ended (`try` and `resource` tables). */
export interface TryEvent {
  t: "try";
  run: string;
  task: number;
  try: number;
  executor: string;
  launched: number;
  /** When its worker started it (launched → running is time in queues), if known. */
  running?: number;
  returned: number;
  ok: boolean;
  /** The error of a failed try: class name, message and (remote) stack. */
  error?: { name: string; message: string; stack?: string };
  resources?: ResourcesMeasured;
  /** Where it ran, if the executor knows (htex: the manager's host and block). */
  host?: string;
  block?: string;
  /** The worker that ran it, e.g. `host:pid`: one timeline track each. */
  worker?: string;
}

/** A block changed state (`block` table). */
export interface BlockEvent {
  t: "block";
  run: string;
  executor: string;
  block: string;
  job?: string;
  state: string;
  at: number;
}

/** A node (htex manager) joined, heartbeated or left (`node` table). */
export interface NodeEvent {
  t: "node";
  run: string;
  executor: string;
  manager: string;
  host: string;
  block: string;
  workers: number;
  /** What the node offers tasks. */
  cores?: number;
  memoryMB?: number;
  active: boolean;
  at: number;
}

/** Anything the store records. */
export type MonitorEvent = WorkflowEvent | TaskEvent | StatusEvent | TryEvent | BlockEvent | NodeEvent;
