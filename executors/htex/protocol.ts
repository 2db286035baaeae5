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

/** Encodes an envelope. */
export function pack(msg: Message): Buffer {
  return packr.pack(msg);
}

/** Decodes an envelope; throws on garbage. */
export function unpack(buf: Uint8Array): Message {
  return packr.unpack(buf) as Message;
}

/** A task as the interchange sees it: routing facts plus opaque payload bytes. */
export interface TaskEnvelope {
  /** Executor-local task id. */
  id: number;
  priority?: number;
  resources?: Resources;
  /** JS apps only: the manager stops the worker past this many seconds (shell commands time themselves). */
  walltime?: number;
  /** v8-serialized `{ fn, args, walltime, shell }` of the task. */
  payload: Uint8Array;
}

/** A result: the task id and the v8-serialized outcome `[ok, value, ms]`. */
export interface ResultEnvelope {
  id: number;
  payload: Uint8Array;
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
  gpus: string[];
  pid: number;
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
  | { t: "block"; block: string; manager: string; event: "registered" | "lost" }
  // manager -> interchange
  | { t: "register"; reg: Registration }
  | { t: "heartbeat" }
  | { t: "done"; results: ResultEnvelope[] }
  /** The manager's window: how many tasks it wants held at once (workers + prefetch + more for tiny tasks). */
  | { t: "credit"; slots: number }
  | { t: "worker-lost"; ids: number[]; detail: string }
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
