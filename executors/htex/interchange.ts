/**
 * The interchange: its own process between the workflow and the managers.
 * It keeps the queue of pending tasks, places them on managers by free
 * capacity (worker slots, and the cores, memory, GPUs and disk a task asks for),
 * relays results in batches, and notices managers that stop heartbeating.
 *
 * Started by HighThroughputExecutor as `taskloom interchange`, configured by
 * one JSON line on stdin; it answers with one JSON line on stdout giving its
 * two addresses, and exits when stdin closes (its workflow is gone).
 * @module
 */
import * as os from "node:os";
import { Router } from "zeromq";
import type { Resources } from "../executor.js";
import { Outbox } from "./outbox.js";
import {
  pack,
  unpack,
  PROTOCOL_VERSION,
  type Message,
  type Registration,
  type ResultEnvelope,
  type TaskEnvelope,
} from "./protocol.js";
import { TaskQueue } from "./task-queue.js";
import { runZapHandler } from "./curve.js";
import { VERSION } from "../../lib/version.js";

/** What the executor tells the interchange. */
export interface InterchangeConfig {
  /** Address managers connect to (IP or host); loopback unless set. */
  address: string;
  /** Port for managers; 0 picks a free one. */
  port: number;
  heartbeatPeriod: number;
  heartbeatThreshold: number;
  /** Largest node the provider can give (cores, MB), to fail tasks that can never fit. */
  nodeCores: number | undefined;
  nodeMemory: number | undefined;
  /** Accelerators per node (the executor's availableAccelerators). */
  nodeGpus: number;
  logLevel: "debug" | "info";
  /** CurveZMQ keys (`encrypted: true`): the interchange's pair and the one client key it admits. */
  curve?: { serverPublic: string; serverSecret: string; clientPublic: string };
}

interface Manager {
  id: Buffer;
  key: string;
  reg: Registration;
  /** Current window (workers + prefetch, widened by the manager for tiny tasks). */
  slots: number;
  inflight: Map<number, Resources | undefined>;
  freeSlots: number;
  freeCores: number;
  freeMemory: number;
  freeGpus: number;
  freeDisk: number;
  /** MPI mode: whole nodes free to lend (0 and unused otherwise). */
  freeNodes: number;
  lastSeen: number;
  idleSince: number | undefined;
}

function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + "\n");
}

/** Does `r` fit in the free (or, with `total`, the whole) capacity of `m`? */
function fits(m: Manager, r: Resources | undefined, total = false): boolean {
  if (r === undefined) return true;
  const cores = total ? m.reg.cores : m.freeCores;
  const memory = total ? m.reg.memory : m.freeMemory;
  const gpus = total ? m.reg.gpus.length : m.freeGpus;
  const disk = total ? m.reg.disk : m.freeDisk;
  const nodes = m.reg.nodes.length === 0 ? 1 : total ? m.reg.nodes.length : m.freeNodes;
  return (
    (r.cores ?? 0) <= cores &&
    (r.memory ?? 0) <= memory &&
    (r.gpus ?? 0) <= gpus &&
    (r.disk ?? 0) <= disk &&
    (r.numNodes ?? 1) <= nodes
  );
}

function take(m: Manager, r: Resources | undefined, sign: 1 | -1): void {
  m.freeSlots -= sign;
  if (m.reg.nodes.length > 0) m.freeNodes -= sign * (r?.numNodes ?? 1);
  if (r === undefined) return;
  m.freeCores -= sign * (r.cores ?? 0);
  m.freeMemory -= sign * (r.memory ?? 0);
  m.freeGpus -= sign * (r.gpus ?? 0);
  m.freeDisk -= sign * (r.disk ?? 0);
}

/** Runs an interchange until its client goes away. */
export async function runInterchange(cfg: InterchangeConfig): Promise<void> {
  const secure = cfg.curve
    ? {
        curveServer: true,
        curvePublicKey: cfg.curve.serverPublic,
        curveSecretKey: cfg.curve.serverSecret,
        zapDomain: "taskloom",
      }
    : {};
  if (cfg.curve) {
    await runZapHandler(cfg.curve.clientPublic, (address) =>
      log("warn", "connection refused: not the workflow's CurveZMQ key", { address }),
    );
  }
  const clientSock = new Router({ linger: 0, ...secure });
  const workerSock = new Router({ linger: 0, mandatory: false, ...secure });
  if (cfg.curve) void logHandshakeFailures(workerSock);
  await clientSock.bind("tcp://127.0.0.1:*");
  await workerSock.bind(`tcp://${cfg.address}:${cfg.port === 0 ? "*" : cfg.port}`);
  const toClient = new Outbox(clientSock, (e) => log("error", "send to client failed", { error: String(e) }));
  const toWorkers = new Outbox(workerSock, (e) => log("error", "send to manager failed", { error: String(e) }));
  let client: Buffer | undefined;
  const queue = new TaskQueue();
  const managers = new Map<string, Manager>();
  const owner = new Map<number, Manager>();
  // Managers dropped (lost, or their block cancelled), with why: if one speaks again it is told so and exits.
  const dropped = new Map<string, string>();
  let results: ResultEnvelope[] = [];
  let flushScheduled = false;
  let dispatchScheduled = false;

  const sendClient = (m: Message): void => {
    if (client) toClient.send([client, ...pack(m)]);
  };
  const flushResults = (): void => {
    flushScheduled = false;
    if (results.length === 0) return;
    sendClient({ t: "results", results });
    results = [];
  };
  const schedule = (): void => {
    if (!dispatchScheduled) {
      dispatchScheduled = true;
      setImmediate(dispatch);
    }
  };

  // Fails tasks no node could ever run, rather than leaving them queued forever: too big for the node size the
  // provider and executor declare, or for every manager connected now.
  const unplaceable = (r: Resources | undefined): string | undefined => {
    if (r === undefined) return undefined;
    const over =
      (cfg.nodeCores !== undefined && (r.cores ?? 0) > cfg.nodeCores) ||
      (cfg.nodeMemory !== undefined && (r.memory ?? 0) > cfg.nodeMemory) ||
      (r.gpus ?? 0) > cfg.nodeGpus;
    if (over) {
      const has = [
        cfg.nodeCores !== undefined ? `${cfg.nodeCores} cores` : undefined,
        cfg.nodeMemory !== undefined ? `${cfg.nodeMemory} MB of memory` : undefined,
        `${cfg.nodeGpus} GPUs`,
      ].filter(Boolean);
      return `needs ${JSON.stringify(r)}, but a node of this executor has ${has.join(", ")}`;
    }
    if (managers.size === 0 || [...managers.values()].some((m) => fits(m, r, true))) return undefined;
    const sizes = [...managers.values()].map(
      (m) =>
        `${m.reg.cores} cores/${m.reg.memory} MB/${m.reg.gpus.length} GPUs/${m.reg.disk} MB disk` +
        (m.reg.nodes.length > 0 ? `/${m.reg.nodes.length} nodes` : ""),
    );
    return `needs ${JSON.stringify(r)}, but no connected node is that large (${[...new Set(sizes)].join(", ")})`;
  };

  function dispatch(): void {
    dispatchScheduled = false;
    const batches = new Map<Manager, TaskEnvelope[]>();
    // Rounds of an even share each, so one manager with a wide window does not take the whole queue from the
    // others, until the queue is empty or no manager can take more.
    for (let progress = true; progress && queue.size > 0;) {
      progress = false;
      const order = [...managers.values()].filter((m) => m.freeSlots > 0).sort((a, b) => b.freeSlots - a.freeSlots);
      if (order.length === 0) break;
      const share = Math.max(1, Math.ceil(queue.size / order.length));
      for (const m of order) {
        const batch = batches.get(m) ?? [];
        const skipped: TaskEnvelope[] = [];
        let took = 0;
        while (m.freeSlots > 0 && took < share) {
          const t = queue.shift();
          if (t === undefined) break;
          if (!fits(m, t.resources)) {
            skipped.push(t);
            if (skipped.length > 64) break; // head-of-line tasks too big for this manager now: leave them for others
            continue;
          }
          take(m, t.resources, 1);
          m.inflight.set(t.id, t.resources);
          owner.set(t.id, m);
          batch.push(t);
          took++;
        }
        queue.unshift(skipped);
        if (took > 0) {
          progress = true;
          batches.set(m, batch);
        }
        if (queue.size === 0) break;
      }
    }
    for (const [m, batch] of batches) {
      m.idleSince = undefined;
      toWorkers.send([m.id, ...pack({ t: "tasks", tasks: batch })]);
    }
  }

  const release = (id: number): Manager | undefined => {
    const m = owner.get(id);
    if (m === undefined) return undefined;
    owner.delete(id);
    const r = m.inflight.get(id);
    if (m.inflight.delete(id)) take(m, r, -1);
    if (m.inflight.size === 0) m.idleSince = Date.now();
    return m;
  };

  const dropManager = (m: Manager, why: string): void => {
    managers.delete(m.key);
    dropped.set(m.key, why);
    const ids = [...m.inflight.keys()];
    for (const id of ids) owner.delete(id);
    log("warn", "manager lost", { manager: m.reg.manager, block: m.reg.block, why, tasks: ids.length });
    sendClient({ t: "block", block: m.reg.block, manager: m.reg.manager, event: "lost", node: nodeOf(m.reg) });
    if (ids.length > 0) {
      sendClient({ t: "lost", ids, error: "manager", detail: why, manager: m.reg.manager, hostname: m.reg.hostname });
    }
  };

  const onClient = (msg: Message): void => {
    switch (msg.t) {
      case "hello":
        sendClient({ t: "welcome", workerUrl: workerSock.lastEndpoint ?? "" });
        return;
      case "submit": {
        for (const t of msg.tasks) {
          const why = unplaceable(t.resources);
          if (why !== undefined) {
            sendClient({
              t: "lost",
              ids: [t.id],
              error: "unplaceable",
              detail: why,
              manager: "",
              hostname: os.hostname(),
            });
          } else queue.push(t);
        }
        schedule();
        return;
      }
      case "cancel": {
        const byManager = new Map<Manager, number[]>();
        for (const id of msg.ids) {
          if (queue.remove(id)) continue;
          const m = owner.get(id);
          if (m)
            byManager
              .set(m, byManager.get(m) ?? [])
              .get(m)!
              .push(id);
        }
        for (const [m, ids] of byManager) toWorkers.send([m.id, ...pack({ t: "kill", ids })]);
        return;
      }
      case "drop-blocks": {
        const blocks = new Set(msg.blocks);
        for (const m of [...managers.values()]) {
          if (!blocks.has(m.reg.block)) continue;
          toWorkers.send([m.id, ...pack({ t: "stop" })]);
          dropManager(m, msg.why);
        }
        return;
      }
      case "managers?":
        sendClient({
          t: "managers",
          managers: [...managers.values()].map((m) => ({
            manager: m.reg.manager,
            block: m.reg.block,
            hostname: m.reg.hostname,
            workers: m.reg.workers,
            running: m.inflight.size,
            idleSince: m.idleSince,
            lastHeartbeat: m.lastSeen,
          })),
        });
        return;
      case "shutdown":
        for (const m of managers.values()) toWorkers.send([m.id, ...pack({ t: "stop" })]);
        setTimeout(() => process.exit(0), 50).unref();
        return;
      default:
        log("warn", "unexpected message from client", { t: msg.t });
    }
  };

  const onManager = (id: Buffer, msg: Message): void => {
    const key = id.toString("hex");
    const m = managers.get(key);
    if (m) m.lastSeen = Date.now();
    else if (msg.t !== "register") {
      // A manager this interchange gave up on (e.g. it was stopped past the heartbeat threshold): its tasks
      // were already reported lost, so it must not run more; it is told, and exits.
      const why = dropped.get(key);
      toWorkers.send([
        id,
        ...pack({ t: "refused", reason: why ? `this manager was dropped: ${why}` : "not registered" }),
      ]);
      return;
    }
    switch (msg.t) {
      case "register": {
        const reg = msg.reg;
        const problem = checkRegistration(reg);
        if (problem !== undefined) {
          log("warn", "manager refused", { problem, manager: reg?.manager });
          toWorkers.send([id, ...pack({ t: "refused", reason: problem })]);
          return;
        }
        managers.set(key, {
          id,
          key,
          reg,
          inflight: new Map(),
          slots: reg.workers + reg.prefetch,
          freeSlots: reg.workers + reg.prefetch,
          freeCores: reg.cores,
          freeMemory: reg.memory,
          freeGpus: reg.gpus.length,
          freeDisk: reg.disk,
          freeNodes: reg.nodes.length,
          lastSeen: Date.now(),
          idleSince: Date.now(),
        });
        log("info", "manager registered", {
          manager: reg.manager,
          block: reg.block,
          host: reg.hostname,
          workers: reg.workers,
        });
        sendClient({ t: "block", block: reg.block, manager: reg.manager, event: "registered", node: nodeOf(reg) });
        toWorkers.send([id, ...pack({ t: "heartbeat" })]);
        schedule();
        return;
      }
      case "heartbeat":
        toWorkers.send([id, ...pack({ t: "heartbeat" })]);
        return;
      case "credit":
        if (m && Number.isInteger(msg.slots) && msg.slots >= 1) {
          m.freeSlots += msg.slots - m.slots;
          m.slots = msg.slots;
          schedule();
        }
        return;
      case "done":
        for (const r of msg.results) {
          release(r.id);
          results.push(r);
        }
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flushResults);
        }
        schedule();
        return;
      case "bye":
        if (m) dropManager(m, String(msg.reason));
        return;
      case "worker-lost":
        for (const tid of msg.ids) release(tid);
        sendClient({
          t: "lost",
          ids: msg.ids,
          error: "worker",
          detail: msg.detail,
          manager: m?.reg.manager ?? "",
          hostname: m?.reg.hostname ?? "",
        });
        schedule();
        return;
      default:
        log("warn", "unexpected message from a manager", { t: msg.t, manager: m?.reg.manager });
    }
  };

  const watchdog = setInterval(
    () => {
      const now = Date.now();
      for (const m of [...managers.values()]) {
        if (now - m.lastSeen > cfg.heartbeatThreshold * 1000) {
          dropManager(
            m,
            `no heartbeat for ${((now - m.lastSeen) / 1000).toFixed(1)} s (threshold ${cfg.heartbeatThreshold} s)`,
          );
        }
      }
    },
    Math.max(50, Math.min(cfg.heartbeatPeriod, cfg.heartbeatThreshold) * 250),
  );
  watchdog.unref();

  process.stdout.write(
    JSON.stringify({ clientUrl: clientSock.lastEndpoint, workerUrl: workerSock.lastEndpoint }) + "\n",
  );
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();

  const clientLoop = (async () => {
    for await (const [from, ...frames] of clientSock) {
      client = from;
      try {
        onClient(unpack(frames));
      } catch (e) {
        log("error", "bad message from client", { error: String(e) });
      }
    }
  })();
  const workerLoop = (async () => {
    for await (const [from, ...frames] of workerSock) {
      let msg: Message;
      try {
        msg = unpack(frames);
      } catch (e) {
        log("warn", "undecodable message from a manager", { error: String(e) });
        toWorkers.send([from!, ...pack({ t: "refused", reason: "undecodable message" })]);
        continue;
      }
      onManager(from!, msg);
    }
  })();
  await Promise.all([clientLoop, workerLoop]);
}

function checkRegistration(reg: Registration | undefined): string | undefined {
  if (typeof reg !== "object" || reg === null) return "registration is not an object";
  if (reg.protocol !== PROTOCOL_VERSION) {
    return `protocol version ${String(reg.protocol)} does not match the interchange's ${PROTOCOL_VERSION}`;
  }
  for (const k of ["manager", "block", "hostname"] as const) {
    if (typeof reg[k] !== "string" || reg[k] === "") return `registration.${k} must be a non-empty string`;
  }
  for (const k of ["workers", "prefetch", "cores", "memory", "disk"] as const) {
    if (typeof reg[k] !== "number" || !(reg[k] >= 0)) return `registration.${k} must be a number >= 0`;
  }
  if (reg.workers < 1) return "registration.workers must be at least 1";
  if (!Array.isArray(reg.gpus)) return "registration.gpus must be an array";
  if (!Array.isArray(reg.nodes)) return "registration.nodes must be an array";
  if (typeof reg.versions !== "object" || reg.versions === null) return "registration.versions is missing";
  if (reg.versions.taskloom !== VERSION) {
    return `taskloom version ${String(reg.versions.taskloom)} does not match the interchange's ${VERSION}`;
  }
  return undefined;
}

// Peers that fail the CurveZMQ handshake (no encryption, wrong keys) leave a line in the log.
async function logHandshakeFailures(sock: Router): Promise<void> {
  try {
    for await (const ev of sock.events) {
      if (ev.type.startsWith("handshake:error")) {
        log("warn", "handshake failed", { event: ev.type, address: "address" in ev ? ev.address : undefined });
      }
    }
  } catch {
    // the socket closed
  }
}

function nodeOf(r: Registration): { hostname: string; workers: number; cores: number; memory: number } {
  return { hostname: r.hostname, workers: r.workers, cores: r.cores, memory: r.memory };
}
