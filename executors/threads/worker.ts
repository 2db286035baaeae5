/**
 * Piscina worker entry: runs a batch of tasks one after another and returns
 * their outcomes. Shipped compiled (dist/) because Node 20 gives worker
 * threads no loader hooks; user TypeScript modules load through tsx.
 * @module
 */
import * as v8 from "node:v8";
import { threadId, workerData } from "node:worker_threads";
import { markWorker } from "../../lib/worker-context.js";
import { SerializationError } from "../../lib/errors.js";
import { errorToJSON } from "../../lib/error-codec.js";
import { at, INDEX, MAX_BATCH, PID, STARTED, THREAD, viewControl } from "./control.js";
import {
  runTask,
  setWorkerScope,
  threadWorkerName,
  type Outcome,
  type RunHooks,
  type WireTask,
} from "../runtime/run-task.js";
import { cloneProblem, isPrimitive } from "../runtime/wire.js";

markWorker();
// Threads share the workflow process: measured JS apps get the thread's CPU and the process's RSS (see measure.ts).
setWorkerScope("thread", threadWorkerName(threadId));

const { sab, slots } = workerData as { sab: SharedArrayBuffer; slots: number };
const c = viewControl(sab, slots);

/** A batch as sent by the pool. */
export interface BatchMessage {
  slot: number;
  tasks: WireTask[];
}

/** Outcomes, as an array, or v8-serialized bytes when some value is an object. */
export interface BatchReply {
  outcomes?: Outcome[];
  bytes?: Uint8Array;
}

const CANCELLED: Outcome = [
  false,
  { name: "TaskCancelledError", message: "cancelled before it started", code: "TASKLOOM_CANCELLED" },
  0,
];

function shellHooks(slot: number): RunHooks {
  return {
    onSpawn: (pid) => Atomics.store(c.ctl, at(slot, PID), pid),
    onExit: () => Atomics.store(c.ctl, at(slot, PID), 0),
  };
}

export default async function runBatch(msg: BatchMessage): Promise<BatchReply> {
  const { slot, tasks } = msg;
  Atomics.store(c.ctl, at(slot, THREAD), threadId);
  const outcomes = new Array<Outcome>(tasks.length);
  let plain = true;
  for (let i = 0; i < tasks.length; i++) {
    if (c.cancelled[slot * MAX_BATCH + i] === 1) {
      outcomes[i] = CANCELLED;
      continue;
    }
    Atomics.store(c.ctl, at(slot, INDEX), i);
    const t = tasks[i]!;
    if (t.walltime !== undefined) {
      Atomics.store(c.ctl, at(slot, STARTED), 1);
      Atomics.notify(c.ctl, at(slot, STARTED));
    }
    let o = runTask(t, t.fn.kind === "shell" ? shellHooks(slot) : undefined);
    if (o instanceof Promise) o = await o;
    if (!isPrimitive(o[1])) plain = false;
    outcomes[i] = o;
  }
  if (plain) return { outcomes };
  try {
    return { bytes: v8.serialize(outcomes) };
  } catch {
    // Find the values that cannot cross and fail their tasks alone.
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!;
      const problem = cloneProblem(o[1]);
      if (problem !== undefined) {
        const err = new SerializationError(
          `the result of app ${tasks[i]!.fn.name} cannot be sent back from the worker: ${problem}`,
        );
        outcomes[i] = [false, errorToJSON(err), o[2]];
      }
    }
    return { bytes: v8.serialize(outcomes) };
  }
}
