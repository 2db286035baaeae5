/**
 * Task states, as Parsl's `States` (DESIGN section 4).
 *
 * @example
 * ```ts
 * const counts = dfk.taskStateCounts();
 * console.log(counts.exec_done, counts.failed);
 * ```
 */
export const TaskState = {
  unsched: "unsched",
  pending: "pending",
  launched: "launched",
  running: "running",
  exec_done: "exec_done",
  memo_done: "memo_done",
  failed: "failed",
  dep_fail: "dep_fail",
  joining: "joining",
  cancelled: "cancelled",
} as const;

/** One of the {@link TaskState} names. */
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** States a task never leaves. */
export const FINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  "exec_done",
  "memo_done",
  "failed",
  "dep_fail",
  "cancelled",
]);

/** Every state name, in the order the counts report them. */
export const ALL_STATES: readonly TaskState[] = Object.values(TaskState);
