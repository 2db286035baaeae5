/**
 * Whether a failed task runs again, as Parsl: each failure costs 1, or what
 * `retryHandler` says; the task is retried while its total cost is at most
 * its budget. Cancellation and dependency failures are never retried.
 * @module
 */
import type { RetryInfo } from "../config.js";
import { DependencyError, TaskCancelledError } from "../errors.js";
import type { TaskRecord } from "./task-record.js";

/** The retry decision, or the handler's own error if it threw. */
export type RetryDecision = { retry: boolean; error: unknown };

/** Records the failure on `rec` and decides. */
export function decideRetry(
  rec: TaskRecord,
  error: unknown,
  budget: number,
  handler: ((e: unknown, t: RetryInfo) => number) | undefined,
): RetryDecision {
  const x = rec.x();
  x.failCount++;
  if (error instanceof TaskCancelledError || error instanceof DependencyError) return { retry: false, error };
  let cost = 1;
  if (handler !== undefined) {
    try {
      cost = handler(error, { taskId: rec.id, appName: rec.def.name, failCount: x.failCount, failCost: x.failCost });
    } catch (handlerError) {
      return { retry: false, error: handlerError };
    }
    if (typeof cost !== "number" || Number.isNaN(cost)) cost = 1;
  }
  x.failCost += cost;
  return { retry: x.failCost <= budget, error };
}
