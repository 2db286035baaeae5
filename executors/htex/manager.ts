/**
 * The manager (`taskloom worker-pool`): one per node of a block. It connects
 * to the interchange, registers its capacity, keeps a prefetch window of
 * tasks, runs them on worker processes, and sends results back in batches.
 * It heartbeats, and exits (with its workers) when the interchange has been
 * silent past the threshold.
 * @module
 */
import { fork, type ChildProcess } from "node:child_process";
import * as os from "node:os";
import * as v8 from "node:v8";
import { randomUUID } from "node:crypto";
import { Dealer } from "zeromq";
import { errorToJSON } from "../../lib/error-codec.js";
import { AppTimeoutError, ResourceExceededError } from "../../lib/errors.js";
import { killProcessGroup } from "../runtime/shell.js";
import { peakRssKiB, sampleProcess } from "../runtime/proc-tree.js";
import { SAMPLE_MS, toMB } from "../runtime/measure.js";
import { Outbox } from "./outbox.js";
import { VERSION } from "../../lib/version.js";
import type { ClientKeys } from "./curve.js";
import { mpiEnv, mpiShape, NodePool, type MpiLauncher } from "./mpi.js";
import { pack, unpack, PROTOCOL_VERSION, type ResultEnvelope, type TaskEnvelope } from "./protocol.js";
import type { MemoryWatch, RunMessage, WorkerMessage } from "./worker.js";

/** How a manager is started (the `worker-pool` command's options). */
export interface ManagerOptions {
  url: string;
  block: string;
  workers: number;
  prefetch: number;
  heartbeatPeriod: number;
  heartbeatThreshold: number;
  cores: number;
  memory: number;
  disk: number;
  accelerators: string[];
  /** CurveZMQ keys, when the interchange is encrypted. */
  curve?: ClientKeys;
  /** MPI mode: how MPI programs start, and the block's nodes. */
  mpi?: { launcher: MpiLauncher; command: string; overrides: string; nodes: string[] };
}

interface Worker {
  rank: number;
  proc: ChildProcess;
  /** Tasks sent and not yet answered, in order. */
  batch: TaskEnvelope[];
  pgid: number;
  timer: NodeJS.Timeout | undefined;
  killedWith: Uint8Array | undefined;
  /** MPI mode: the nodes lent to the running task. */
  nodes: string[];
  /** The running JS app's memory limit, watched from here. */
  limit: Watched | undefined;
}

interface Watched extends MemoryWatch {
  id: number;
  t0: number;
  userMs: number;
  systemMs: number;
}

const WORKER_ENTRY = new URL("./worker.js", import.meta.url);
// Tasks of apps faster than this are sent to a worker (and asked of the interchange) in batches.
const TINY_MS = 0.2;
// Tasks shorter than this would leave a worker idle for a round trip to the interchange between two of them,
// so the manager asks for one more task per worker to keep queued.
const SHORT_MS = 50;
const MAX_BATCH = 64;

/** Runs a manager until stopped or orphaned. */
export async function runManager(o: ManagerOptions): Promise<void> {
  const id = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const pool = o.mpi && new NodePool(o.mpi.nodes);
  const sock = new Dealer({
    routingId: id,
    linger: 0,
    ...(o.curve && {
      curveServerKey: o.curve.serverPublic,
      curvePublicKey: o.curve.client.publicKey,
      curveSecretKey: o.curve.client.secretKey,
    }),
  });
  sock.connect(o.url);
  const out = new Outbox(sock, (e) => fatal(`send failed: ${String(e)}`));
  const queue: TaskEnvelope[] = [];
  const workers: Worker[] = [];
  let results: ResultEnvelope[] = [];
  let flushScheduled = false;
  let lastHeard = Date.now();
  let stopping = false;
  // Mean run time per app (EWMA), and of the app that finished last, which sets the window.
  const appMs = new Map<number, number>();
  let avgMs: number | undefined;
  const tiny = (t: TaskEnvelope): boolean => t.walltime === undefined && (appMs.get(t.app ?? -1) ?? Infinity) < TINY_MS;
  let credit = o.workers + o.prefetch;

  const flush = (): void => {
    flushScheduled = false;
    if (results.length === 0) return;
    out.send(pack({ t: "done", results }));
    results = [];
  };
  const finished = (r: ResultEnvelope): void => {
    results.push(r);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  // Tiny tasks need a deep window to keep workers busy across the round trip to the interchange.
  const updateCredit = (): void => {
    const extra =
      avgMs === undefined ? 0 : avgMs < TINY_MS ? o.workers * MAX_BATCH * 2 : avgMs < SHORT_MS ? o.workers : 0;
    const want = o.workers + o.prefetch + extra;
    if (want !== credit) {
      credit = want;
      out.send(pack({ t: "credit", slots: want }));
    }
  };

  const spawnWorker = (rank: number): Worker => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TASKLOOM_WORKER: "1",
      TASKLOOM_WORKER_RANK: String(rank),
      TASKLOOM_WORKER_COUNT: String(o.workers),
      TASKLOOM_WORKER_POOL_ID: id,
      TASKLOOM_BLOCK_ID: o.block,
    };
    if (o.accelerators.length > 0) {
      const acc = o.accelerators[rank % o.accelerators.length]!;
      env.CUDA_VISIBLE_DEVICES = env.ROCR_VISIBLE_DEVICES = env.ZE_AFFINITY_MASK = acc;
    }
    const proc = fork(WORKER_ENTRY, [], {
      env,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const w: Worker = {
      rank,
      proc,
      batch: [],
      pgid: 0,
      timer: undefined,
      killedWith: undefined,
      nodes: [],
      limit: undefined,
    };
    proc.on("message", (m: WorkerMessage) => {
      if ("pgid" in m) {
        w.pgid = m.pgid;
        return;
      }
      if ("limit" in m) {
        watchMemory(w, m.id, m.limit);
        return;
      }
      w.limit = undefined;
      if (w.timer) clearTimeout(w.timer);
      w.timer = undefined;
      const ran = w.batch;
      w.batch = [];
      w.pgid = 0;
      returnNodes(w);
      m.results.forEach((r, i) => {
        const app = ran[i]?.app ?? -1;
        const prev = appMs.get(app);
        avgMs = prev === undefined ? r.ms : prev * 0.9 + r.ms * 0.1;
        appMs.set(app, avgMs);
        finished({ id: r.id, payload: r.payload });
      });
      updateCredit();
      next(w);
    });
    proc.on("exit", (code, signal) => {
      if (stopping) return;
      if (w.timer) clearTimeout(w.timer);
      if (w.pgid !== 0) killProcessGroup(w.pgid);
      returnNodes(w);
      workers[rank] = spawnWorker(rank);
      const [first, ...rest] = w.batch;
      if (first !== undefined) {
        // The first unanswered task was running: it gets the blame; the rest run again.
        if (w.killedWith) finished({ id: first.id, payload: w.killedWith });
        else
          out.send(
            pack({ t: "worker-lost", ids: [first.id], detail: `worker ${rank} exited (${signal ?? `code ${code}`})` }),
          );
        queue.unshift(...rest);
      }
      next(workers[rank]);
    });
    return w;
  };

  // JS apps with a memory limit: their worker's RSS, every SAMPLE_MS, from here (the app may never yield).
  let memoryTimer: NodeJS.Timeout | undefined;
  function watchMemory(w: Worker, id: number, m: MemoryWatch): void {
    const cpu = w.proc.pid === undefined ? undefined : sampleProcess(w.proc.pid);
    w.limit = { ...m, id, t0: performance.now(), userMs: cpu?.userMs ?? 0, systemMs: cpu?.systemMs ?? 0 };
    memoryTimer ??= setInterval(checkMemory, SAMPLE_MS);
  }
  function checkMemory(): void {
    let watching = false;
    for (const w of workers) {
      const l = w.limit;
      if (l === undefined || w.killedWith !== undefined || w.proc.pid === undefined) continue;
      watching = true;
      const u = sampleProcess(w.proc.pid);
      if (u === undefined || u.rssKiB <= l.memory * 1024) continue;
      w.limit = undefined;
      const ms = performance.now() - l.t0;
      const err = new ResourceExceededError(l.id, l.app, "memory", l.memory, toMB(u.rssKiB));
      const used = l.measure && {
        // The worker reset its peak when the task started.
        peakRssKiB: Math.max(u.rssKiB, peakRssKiB(w.proc.pid) ?? 0),
        cpuUserMs: u.userMs - l.userMs,
        cpuSystemMs: u.systemMs - l.systemMs,
        wallMs: Math.round(ms),
        pid: w.proc.pid,
      };
      const outcome = used
        ? [false, errorToJSON(err), ms, used, `${os.hostname()}:${w.proc.pid}`]
        : [false, errorToJSON(err), ms];
      stopTask(w, v8.serialize(outcome));
    }
    if (!watching) {
      clearInterval(memoryTimer);
      memoryTimer = undefined;
    }
  }

  const stopTask = (w: Worker, outcome: Uint8Array): void => {
    w.killedWith = outcome;
    if (w.pgid !== 0) killProcessGroup(w.pgid);
    w.proc.kill("SIGKILL");
  };

  // MPI mode: a task's nodes go back to the pool when it ends, and may let a waiting task start.
  function returnNodes(w: Worker): void {
    if (pool === undefined || w.nodes.length === 0) return;
    pool.give(w.nodes);
    w.nodes = [];
    setImmediate(() => {
      for (const x of workers) next(x);
    });
  }

  function next(w: Worker): void {
    if (w.batch.length > 0 || stopping || queue.length === 0) return;
    let env: Record<string, string> | undefined;
    if (pool !== undefined && o.mpi !== undefined) {
      // Whole nodes per task, first come first served; the interchange never sends more than the block holds.
      const shape = mpiShape(queue[0]!.resources);
      const nodes = pool.take(shape.nodes);
      if (nodes === undefined) return;
      w.nodes = nodes;
      env = mpiEnv(o.mpi.launcher, o.mpi.command, o.mpi.overrides, nodes, shape.ranksPerNode);
    }
    const first = queue.shift()!;
    const batch = [first];
    // Only apps seen to take well under a millisecond share a message (never an MPI task); the rest go alone.
    if (env === undefined && tiny(first)) {
      const size = Math.min(MAX_BATCH, Math.ceil((queue.length + 1) / o.workers));
      while (batch.length < size && queue.length > 0 && tiny(queue[0]!)) batch.push(queue.shift()!);
    }
    w.batch = batch;
    w.killedWith = undefined;
    const msg: RunMessage = { tasks: batch.map((t) => ({ id: t.id, payload: t.payload, ...(env && { env }) })) };
    w.proc.send(msg);
    const walltime = first.walltime;
    if (walltime !== undefined) {
      // Shell commands time themselves out on the worker; this stops a JS app stuck in a loop.
      w.timer = setTimeout(
        () => stopTask(w, v8.serialize([false, errorToJSON(new AppTimeoutError(walltime)), walltime * 1000])),
        walltime * 1000 + 50,
      );
    }
  }

  const fatal = (why: string): never => {
    process.stderr.write(`taskloom worker-pool ${id}: ${why}\n`);
    shutdown(1);
    throw new Error(why);
  };

  const shutdown = (code: number): void => {
    stopping = true;
    for (const w of workers) {
      if (w.pgid !== 0) killProcessGroup(w.pgid);
      w.proc.kill("SIGKILL");
    }
    sock.close();
    process.exit(code);
  };

  for (let r = 0; r < o.workers; r++) workers.push(spawnWorker(r));
  out.send(
    pack({
      t: "register",
      reg: {
        protocol: PROTOCOL_VERSION,
        node: os.hostname(),
        manager: id,
        block: o.block,
        hostname: os.hostname(),
        workers: o.workers,
        prefetch: o.prefetch,
        cores: o.cores,
        memory: o.memory,
        disk: o.disk,
        gpus: o.accelerators,
        nodes: o.mpi?.nodes ?? [],
        pid: process.pid,
        versions: { taskloom: VERSION, node: process.version },
      },
    }),
  );
  const beat = setInterval(() => {
    if (Date.now() - lastHeard > o.heartbeatThreshold * 1000) {
      process.stderr.write(`taskloom worker-pool ${id}: interchange silent for ${o.heartbeatThreshold} s, exiting\n`);
      shutdown(0);
    }
    out.send(pack({ t: "heartbeat" }));
  }, o.heartbeatPeriod * 1000);
  // Signalled (a batch system ending the job, a cancel): stop the workers, tell the interchange, then go, so no
  // task is sent here in the meantime.
  const leave = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) {
      if (w.pgid !== 0) killProcessGroup(w.pgid);
      w.proc.kill("SIGKILL");
    }
    out.send(pack({ t: "bye", reason: `its worker pool got ${signal}` }));
    const exit = (): void => shutdown(0);
    setTimeout(exit, 1000).unref();
    void out.drained().then(() => setTimeout(exit, 50));
  };
  process.on("SIGTERM", () => leave("SIGTERM"));
  process.on("SIGINT", () => leave("SIGINT"));

  for await (const frames of sock) {
    lastHeard = Date.now();
    const msg = unpack(frames);
    switch (msg.t) {
      case "tasks":
        queue.push(...msg.tasks);
        for (const w of workers) next(w);
        break;
      case "kill":
        for (const tid of msg.ids) {
          const qi = queue.findIndex((t) => t.id === tid);
          if (qi >= 0) queue.splice(qi, 1);
          // A task alone in its worker is stopped; one in a batch of tiny tasks ends by itself soon.
          const w = workers.find((x) => x.batch.length === 1 && x.batch[0]!.id === tid);
          if (w)
            stopTask(
              w,
              v8.serialize([
                false,
                { name: "TaskCancelledError", message: `task was cancelled`, code: "TASKLOOM_CANCELLED" },
                0,
              ]),
            );
        }
        break;
      case "refused":
        clearInterval(beat);
        fatal(`the interchange refused this manager: ${msg.reason}`);
        break;
      case "stop":
        clearInterval(beat);
        shutdown(0);
        break;
      default:
        break;
    }
  }
}
