/**
 * The HTEX wire protocol. Envelopes are msgpack (what the interchange routes
 * on: ids, priorities, resources); a task's function reference and arguments,
 * and its outcome, travel as opaque `v8.serialize` bytes inside them, so the
 * interchange never decodes payloads and every executor has the thread pool's
 * structured-clone semantics (msgpack would silently drop functions).
 *
 * Every message carries many tasks or results: no hop sends one at a time.
 * @module
 */
import { Packr } from "msgpackr";
import type { Resources } from "../executor.js";

/** Bumped when messages change incompatibly; managers with another version are refused. */
export const PROTOCOL_VERSION = 1;

const packr = new Packr({ useRecords: false, moreTypes: false });

// Payloads at least this big travel as frames of their own: msgpack never copies them, the interchange forwards
// the received buffers as they are, and a batch of tiny tasks stays one frame.
const OUT_OF_BAND = 16 * 1024;

/** Encodes a message as ZeroMQ frames: the msgpack envelope, then any large payloads. */
export function pack(msg: Message): Buffer[] {
  const items =
    msg.t === "submit" || msg.t === "tasks"
      ? msg.tasks
      : msg.t === "results" || msg.t === "done"
        ? msg.results
        : undefined;
  if (items === undefined || !items.some((x) => x.payload.byteLength >= OUT_OF_BAND)) return [packr.pack(msg)];
  const frames: Buffer[] = [Buffer.alloc(0)];
  const moved = items.map((x) => {
    if (x.payload.byteLength < OUT_OF_BAND) return x;
    frames.push(Buffer.from(x.payload.buffer, x.payload.byteOffset, x.payload.byteLength));
    return { ...x, payload: EMPTY, frame: frames.length - 1 };
  });
  frames[0] = packr.pack(
    msg.t === "submit" || msg.t === "tasks" ? { ...msg, tasks: moved } : { ...msg, results: moved },
  );
  return frames;
}

const EMPTY = new Uint8Array(0);

/** Decodes the frames of one message; throws on garbage. */
export function unpack(frames: Uint8Array[]): Message {
  if (frames.length === 0) throw new Error("empty message");
  const msg = packr.unpack(frames[0]!) as Message;
  if (frames.length === 1) return msg;
  const items: (TaskEnvelope | ResultEnvelope)[] | undefined =
    msg.t === "submit" || msg.t === "tasks"
      ? msg.tasks
      : msg.t === "results" || msg.t === "done"
        ? msg.results
        : undefined;
  for (const x of items ?? []) {
    if (x.frame === undefined) continue;
    const f = frames[x.frame];
    if (f === undefined) throw new Error(`payload frame ${x.frame} is missing`);
    x.payload = f;
    delete x.frame;
  }
  return msg;
}

/** A task as the interchange sees it: routing facts plus opaque payload bytes. */
export interface TaskEnvelope {
  /** Executor-local task id. */
  id: number;
  priority?: number;
  resources?: Resources;
  /** JS apps only: the manager stops the worker past this many seconds (shell commands time themselves). */
  walltime?: number;
  /** Which app (a small id the client gives each app), so managers learn run times per app. */
  app?: number;
  /** v8-serialized `{ fn, args, walltime, shell }` of the task. */
  payload: Uint8Array;
  /** On the wire only: the frame that holds a large payload. */
  frame?: number;
}

/** A result: the task id and the v8-serialized outcome `[ok, value, ms]`. */
export interface ResultEnvelope {
  id: number;
  payload: Uint8Array;
  /** On the wire only: the frame that holds a large payload. */
  frame?: number;
}

/** What a manager says about itself when it connects. */
export interface Registration {
  protocol: number;
  node: string;
  manager: string;
  block: string;
  hostname: string;
  workers: number;
  prefetch: number;
  cores: number;
  memory: number;
  /** MB of free disk in the manager's working directory. */
  disk: number;
  gpus: string[];
  pid: number;
  /** MPI mode: the block's nodes, lent whole to tasks (empty otherwise). */
  nodes: string[];
  /** taskloom and Node versions of the manager; taskloom must match the interchange's. */
  versions: { taskloom: string; node: string };
}

/** Every message, tagged by `t`. */
export type Message =
  // client -> interchange
  | { t: "submit"; tasks: TaskEnvelope[] }
  | { t: "cancel"; ids: number[] }
  | { t: "hello" }
  | { t: "managers?" }
  /** Blocks the client cancelled or saw end: their managers get no more tasks and their tasks are lost. */
  | { t: "drop-blocks"; blocks: string[]; why: string }
  | { t: "shutdown" }
  // interchange -> client
  | { t: "results"; results: ResultEnvelope[] }
  | {
      t: "lost";
      ids: number[];
      error: "manager" | "worker" | "unplaceable";
      detail: string;
      manager: string;
      hostname: string;
    }
  | { t: "managers"; managers: ManagerInfo[] }
  | { t: "welcome"; workerUrl: string }
  | {
      t: "block";
      block: string;
      manager: string;
      event: "registered" | "lost";
      /** What the manager registered with (for monitoring). */
      node?: { hostname: string; workers: number; cores: number; memory: number };
    }
  // manager -> interchange
  | { t: "register"; reg: Registration }
  | { t: "heartbeat" }
  | { t: "done"; results: ResultEnvelope[] }
  /** The manager's window: how many tasks it wants held at once (workers + prefetch + more for tiny tasks). */
  | { t: "credit"; slots: number }
  | { t: "worker-lost"; ids: number[]; detail: string }
  /** The manager is stopping (signalled, e.g. by its batch system at walltime): send it nothing more. */
  | { t: "bye"; reason: string }
  // interchange -> manager
  | { t: "tasks"; tasks: TaskEnvelope[] }
  | { t: "kill"; ids: number[] }
  | { t: "refused"; reason: string }
  | { t: "stop" };

/** What the interchange reports about a connected manager. */
export interface ManagerInfo {
  manager: string;
  block: string;
  hostname: string;
  workers: number;
  running: number;
  idleSince: number | undefined;
  lastHeartbeat: number;
}
