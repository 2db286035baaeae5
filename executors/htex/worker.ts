/**
 * A worker process of a manager. It runs the tasks of a batch one after the
 * other (a batch holds several only for apps seen to run in well under a
 * millisecond) and answers with their outcomes in one message. A process, not
 * a thread, so that a crash or an out-of-memory kill takes one worker and not
 * the pool. It exits when its manager goes away.
 * @module
 */
import * as v8 from "node:v8";
import { markWorker } from "../../lib/worker-context.js";
import { errorToJSON } from "../../lib/error-codec.js";
import { SerializationError } from "../../lib/errors.js";
import { nameOutcome, runTask, type Outcome, type WireTask } from "../runtime/run-task.js";
import { cloneProblem } from "../runtime/wire.js";
import { killProcessGroup } from "../runtime/shell.js";

/** Manager -> worker: tasks to run in order. */
export interface RunMessage {
  /** `env`: variables the task runs with (MPI mode: its nodes and launcher prefix). */
  tasks: { id: number; payload: Uint8Array; env?: Record<string, string> }[];
}

/**
 * Worker -> manager: outcomes (ms is the run time), the process group of a
 * shell command that started, or a JS app with a memory limit about to start
 * (the manager watches this process's RSS and kills it past the limit).
 */
export type WorkerMessage =
  | { results: { id: number; payload: Uint8Array; ms: number }[] }
  | { id: number; pgid: number }
  | { id: number; limit: MemoryWatch };

/** A JS app's memory limit, for its manager to enforce. */
export interface MemoryWatch {
  /** MB (MiB). */
  memory: number;
  app: string;
  /** The try is measured: the manager reports what it saw if it kills it. */
  measure: boolean;
}

markWorker();
process.env.TASKLOOM_WORKER = "1";

const send = (m: WorkerMessage): void => {
  process.send?.(m);
};

function encode(o: Outcome, name: string): Uint8Array {
  try {
    return v8.serialize(o);
  } catch {
    const problem = cloneProblem(o[1]) ?? "it cannot be serialized";
    const err = new SerializationError(`the result of app ${name} cannot be sent back from the worker: ${problem}`);
    return v8.serialize([false, errorToJSON(err), o[2]]);
  }
}

// The process group of the shell command running now, if any: it dies with this worker.
let shellGroup = 0;

process.on("message", (m: RunMessage) => {
  void (async () => {
    const results: { id: number; payload: Uint8Array; ms: number }[] = [];
    for (const { id, payload, env } of m.tasks) {
      const task: WireTask = { ...(v8.deserialize(payload) as Omit<WireTask, "id">), id };
      const saved = env && Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      if (env) Object.assign(process.env, env);
      // A JS body may never yield to this event loop: the manager, not this process, samples and kills.
      if (task.memory !== undefined && task.fn.kind === "app") {
        send({ id, limit: { memory: task.memory, app: task.fn.name, measure: task.measure === true } });
      }
      let o = runTask(
        task,
        task.fn.kind === "shell"
          ? {
              onSpawn: (pid) => {
                shellGroup = pid;
                send({ id, pgid: pid });
              },
              // The manager forgets the group when the result arrives; one message fewer per command.
              onExit: () => {
                shellGroup = 0;
              },
            }
          : undefined,
      );
      if (o instanceof Promise) o = await o;
      if (task.name === true) nameOutcome(o);
      if (saved) {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
      results.push({ id, payload: encode(o, task.fn.name), ms: o[2] });
    }
    send({ results });
  })();
});

// The manager is gone: nothing will collect results, so stop.
process.on("disconnect", () => {
  if (shellGroup !== 0) killProcessGroup(shellGroup);
  process.exit(0);
});
