/**
 * HighThroughputExecutor: Parsl's pilot-job executor. Tasks go, in batches,
 * over ZeroMQ to an interchange process, which places them on managers
 * (`taskloom worker-pool`, one per node, started in blocks by a provider);
 * managers run them on worker processes and return results in batches.
 *
 * @example
 * ```ts
 * await load({
 *   executors: [new HighThroughputExecutor({ label: "htex", provider: new LocalProvider({ maxBlocks: 2 }) })],
 * });
 * ```
 * @module
 */
import { checkStagingOptions, type StagingOptions, type StagingSettings } from "../../lib/staging/settings.js";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import { Dealer } from "zeromq";
import type { ExecTask, Executor, ExecutorContext, Resources, ResultInfo } from "../executor.js";
import { describe } from "../../lib/app.js";
import { errorFromJSON, type ErrorJSON } from "../../lib/error-codec.js";
import { checkOptionKeys } from "../../lib/options.js";
import { ConfigError, ManagerLostError, ProviderError, SerializationError, WorkerLostError } from "../../lib/errors.js";
import type { Provider } from "../../providers/provider.js";
import { LocalProvider } from "../../providers/local/provider.js";
import { reviveFiles, isPrimitive, cloneProblem } from "../runtime/wire.js";
import type { Outcome } from "../runtime/run-task.js";
import { BlockManager } from "./blocks.js";
import { writeCerts } from "./curve.js";
import { quote } from "../../providers/runner.js";
import { CLI, startInterchange, type InterchangeHandle } from "./interchange-process.js";
import { Outbox } from "./outbox.js";
import { pack, unpack, type ManagerInfo, type Message, type TaskEnvelope } from "./protocol.js";

/** Options of {@link HighThroughputExecutor} (Parsl's, camelCase). */
export interface HighThroughputOptions {
  /** @default "htex" */
  label?: string;
  /** Where blocks come from. @default new LocalProvider() */
  provider?: Provider;
  /** Workers per node at most. @default as many as cores allow */
  maxWorkersPerNode?: number;
  /** Cores each worker counts for. @default 1 */
  coresPerWorker?: number;
  /** MB each worker counts for; limits workers per node. */
  memPerWorker?: number;
  /** Accelerators of a node (count or ids); one pinned per worker with CUDA_VISIBLE_DEVICES. */
  availableAccelerators?: number | string[];
  /** Tasks a manager may hold beyond its workers. @default 0 */
  prefetchCapacity?: number;
  /** Seconds between heartbeats. @default 30 */
  heartbeatPeriod?: number;
  /** Seconds of silence after which a manager (or the interchange, for a manager) is lost. @default 120 */
  heartbeatThreshold?: number;
  /** Address managers connect to. @default "127.0.0.1" (loopback: managers on this machine only) */
  address?: string;
  /** Port for managers. @default a free one */
  workerPort?: number;
  /**
   * Encrypt and authenticate every connection with CurveZMQ; keys are made per run in
   * `<runDir>/<label>/certs` (managers on other hosts need that directory, e.g. on a shared filesystem).
   * @default false
   */
  encrypted?: boolean;
  /**
   * MPI mode: each block runs one manager (use `SimpleLauncher`) that lends whole nodes to tasks with
   * `resources: { numNodes, ranksPerNode }`; tasks start their MPI program with `$TASKLOOM_MPI_PREFIX`
   * (`srun -N … -n … --nodelist=…`, or Hydra's `mpiexec -n … -ppn … -hosts …`).
   */
  mpiLauncher?: "srun" | "mpiexec";
  /** The launcher's executable in MPI mode, e.g. `"mpiexec.mpich"`. @default mpiLauncher */
  mpiCommand?: string;
  /** Extra arguments after the MPI prefix, e.g. `"--mpi=pmi2"`. */
  mpiOverrides?: string;
  /**
   * How blocks start a worker pool, before its options. Set it when the nodes have taskloom elsewhere than this
   * process (e.g. `"npx taskloom"`, or a container command).
   * @default this Node and this taskloom: `<node> <taskloom>/dist/lib/cli/main.js`
   */
  workerCommand?: string;
  /** Where and how remote files are staged (in-task: into a cache on each worker node). @default { mode: "in-task" } */
  staging?: StagingOptions;
}

const BATCH_BYTES = 1 << 20;

function isProvider(p: unknown): p is Provider {
  const o = p as Partial<Provider> | null;
  return (
    typeof o === "object" &&
    o !== null &&
    typeof o.submit === "function" &&
    typeof o.status === "function" &&
    typeof o.cancel === "function"
  );
}

const KNOWN = [
  "label",
  "provider",
  "maxWorkersPerNode",
  "coresPerWorker",
  "memPerWorker",
  "availableAccelerators",
  "prefetchCapacity",
  "heartbeatPeriod",
  "heartbeatThreshold",
  "address",
  "workerPort",
  "encrypted",
  "mpiLauncher",
  "mpiCommand",
  "mpiOverrides",
  "workerCommand",
  "staging",
];

/** Runs tasks on worker pools that providers start, through an interchange. */
export class HighThroughputExecutor implements Executor {
  readonly label: string;
  readonly provider: Provider;
  /** What blocks run to start a worker pool (before `worker-pool` and its options). */
  readonly workerCommand: string;
  readonly staging: StagingSettings;
  /** MPI mode, if on. */
  readonly mpi: { launcher: "srun" | "mpiexec"; command: string; overrides: string } | undefined;
  readonly options: Readonly<
    Required<
      Omit<
        HighThroughputOptions,
        | "label"
        | "provider"
        | "memPerWorker"
        | "maxWorkersPerNode"
        | "mpiLauncher"
        | "mpiCommand"
        | "mpiOverrides"
        | "workerCommand"
        | "staging"
      >
    >
  > & {
    memPerWorker: number | undefined;
    maxWorkersPerNode: number | undefined;
    accelerators: string[];
  };
  #ctx: ExecutorContext | undefined;
  #ix: InterchangeHandle | undefined;
  #sock: Dealer | undefined;
  #out: Outbox | undefined;
  #blocks: BlockManager | undefined;
  readonly #pending = new Map<number, ExecTask>();
  #batch: TaskEnvelope[] = [];
  #batchBytes = 0;
  readonly #appIds = new Map<string, number>();
  #flushScheduled = false;
  #bad: Error | undefined;
  #closing = false;
  #certDir: string | undefined;
  // Waiting for the interchange's answers to "managers?", in order.
  readonly #managerQueries: ((m: ManagerInfo[]) => void)[] = [];

  constructor(options: HighThroughputOptions = {}) {
    checkOptionKeys("HighThroughputExecutor", options, KNOWN);
    const num = (k: keyof HighThroughputOptions, v: unknown, min: number, int = false): void => {
      if (
        v !== undefined &&
        !(typeof v === "number" && v >= min && Number.isFinite(v) && (!int || Number.isInteger(v)))
      ) {
        throw new ConfigError(
          `HighThroughputExecutor options.${k}: expected ${int ? "an integer" : "a number"} >= ${min}, got ${describe(v)}`,
        );
      }
    };
    num("maxWorkersPerNode", options.maxWorkersPerNode, 1, true);
    num("coresPerWorker", options.coresPerWorker, 0.001);
    num("memPerWorker", options.memPerWorker, 1);
    num("prefetchCapacity", options.prefetchCapacity, 0, true);
    num("heartbeatPeriod", options.heartbeatPeriod, 0.01);
    num("heartbeatThreshold", options.heartbeatThreshold, 0.01);
    num("workerPort", options.workerPort, 0, true);
    for (const k of ["label", "address"] as const) {
      const v = options[k];
      if (v !== undefined && !(typeof v === "string" && /^[^\s]+$/.test(v))) {
        throw new ConfigError(
          `HighThroughputExecutor options.${k}: expected a non-empty string without spaces, got ${describe(v)}`,
        );
      }
    }
    if (options.provider !== undefined && !isProvider(options.provider)) {
      throw new ConfigError(
        `HighThroughputExecutor options.provider: expected a provider (e.g. new LocalProvider()), got ${describe(options.provider)}`,
      );
    }
    if (options.mpiLauncher !== undefined && options.mpiLauncher !== "srun" && options.mpiLauncher !== "mpiexec") {
      throw new ConfigError(
        `HighThroughputExecutor options.mpiLauncher: expected "srun" or "mpiexec", got ${describe(options.mpiLauncher)}`,
      );
    }
    if (
      options.workerCommand !== undefined &&
      !(typeof options.workerCommand === "string" && options.workerCommand.trim() !== "")
    ) {
      throw new ConfigError(
        `HighThroughputExecutor options.workerCommand: expected a command line, got ${describe(options.workerCommand)}`,
      );
    }
    this.workerCommand = options.workerCommand ?? `${quote(process.execPath)} ${quote(CLI)}`;
    for (const k of ["mpiCommand", "mpiOverrides"] as const) {
      const v = options[k];
      if (v !== undefined && typeof v !== "string") {
        throw new ConfigError(`HighThroughputExecutor options.${k}: expected a string, got ${describe(v)}`);
      }
      if (v !== undefined && options.mpiLauncher === undefined) {
        throw new ConfigError(`HighThroughputExecutor options.${k} needs options.mpiLauncher ("srun" or "mpiexec")`);
      }
    }
    if (options.mpiLauncher !== undefined) {
      const launcher = (options.provider as { launcher?: { name?: string } } | undefined)?.launcher?.name;
      if (launcher !== undefined && launcher !== "SimpleLauncher" && launcher !== "WrappedLauncher") {
        throw new ConfigError(
          `HighThroughputExecutor in MPI mode needs one worker pool per block: give its provider launcher: new SimpleLauncher() (it has ${launcher})`,
        );
      }
    }
    if (options.encrypted !== undefined && typeof options.encrypted !== "boolean") {
      throw new ConfigError(
        `HighThroughputExecutor options.encrypted: expected true or false, got ${describe(options.encrypted)}`,
      );
    }
    const acc = options.availableAccelerators;
    if (
      acc !== undefined &&
      !(Number.isInteger(acc) || (Array.isArray(acc) && acc.every((a) => typeof a === "string")))
    ) {
      throw new ConfigError(
        `HighThroughputExecutor options.availableAccelerators: expected a count or an array of ids, got ${describe(acc)}`,
      );
    }
    this.staging = checkStagingOptions("HighThroughputExecutor", options.staging);
    this.label = options.label ?? "htex";
    this.provider = options.provider ?? new LocalProvider();
    this.options = {
      maxWorkersPerNode: options.maxWorkersPerNode,
      coresPerWorker: options.coresPerWorker ?? 1,
      memPerWorker: options.memPerWorker,
      availableAccelerators: acc ?? [],
      accelerators: typeof acc === "number" ? Array.from({ length: acc }, (_, i) => String(i)) : (acc ?? []),
      prefetchCapacity: options.prefetchCapacity ?? 0,
      heartbeatPeriod: options.heartbeatPeriod ?? 30,
      heartbeatThreshold: options.heartbeatThreshold ?? 120,
      address: options.address ?? "127.0.0.1",
      workerPort: options.workerPort ?? 0,
      encrypted: options.encrypted ?? false,
    };
    this.mpi =
      options.mpiLauncher === undefined
        ? undefined
        : {
            launcher: options.mpiLauncher,
            command: options.mpiCommand ?? options.mpiLauncher,
            overrides: options.mpiOverrides ?? "",
          };
  }

  /** Workers one node runs, from the provider's node size (as the managers compute it). */
  workersPerNode(): number {
    const o = this.options;
    // MPI mode: one pool per block, as many workers as nodes unless capped; spread over the block for the arithmetic.
    if (this.mpi !== undefined) {
      const nodes = this.provider.nodesPerBlock;
      return Math.max(1, Math.floor((o.maxWorkersPerNode ?? nodes) / nodes));
    }
    const limits = [Math.floor((this.provider.coresPerNode ?? os.availableParallelism()) / o.coresPerWorker)];
    if (o.maxWorkersPerNode !== undefined) limits.push(o.maxWorkersPerNode);
    if (o.memPerWorker !== undefined && this.provider.memPerNode !== undefined)
      limits.push(Math.floor(this.provider.memPerNode / o.memPerWorker));
    if (o.accelerators.length > 0) limits.push(o.accelerators.length);
    return Math.max(1, Math.min(...limits));
  }

  async start(ctx: ExecutorContext): Promise<void> {
    if (this.#ctx)
      throw new ConfigError(`HighThroughputExecutor "${this.label}" was started twice; make a new one per load()`);
    this.#ctx = ctx;
    const dir = path.join(ctx.runDir, this.label);
    fs.mkdirSync(dir, { recursive: true });
    const o = this.options;
    const keys = o.encrypted ? writeCerts(path.join(dir, "certs")) : undefined;
    if (keys) this.#certDir = path.join(dir, "certs");
    this.#ix = await startInterchange(
      {
        address: o.address,
        port: o.workerPort,
        heartbeatPeriod: o.heartbeatPeriod,
        heartbeatThreshold: o.heartbeatThreshold,
        nodeCores: this.provider.coresPerNode,
        nodeMemory: this.provider.memPerNode,
        nodeGpus: o.accelerators.length,
        logLevel: "info",
        curve: keys && {
          serverPublic: keys.server.publicKey,
          serverSecret: keys.server.secretKey,
          clientPublic: keys.client.publicKey,
        },
      },
      path.join(dir, "interchange.log"),
    );
    this.#ix.proc.once("exit", (code, signal) => {
      if (!this.#closing)
        this.#fail(
          new WorkerLostError(
            "interchange",
            os.hostname(),
            `the interchange process exited (${signal ?? `code ${code}`}); see ${dir}/interchange.log`,
          ),
        );
    });
    const sock = new Dealer({
      linger: 0,
      ...(keys && {
        curveServerKey: keys.server.publicKey,
        curvePublicKey: keys.client.publicKey,
        curveSecretKey: keys.client.secretKey,
      }),
    });
    sock.connect(this.#ix.clientUrl);
    this.#sock = sock;
    this.#out = new Outbox(sock, (e) => this.#fail(new ProviderError(`cannot reach the interchange: ${String(e)}`)));
    this.#out.send(pack({ t: "hello" }));
    void this.#receive(sock);
    await this.provider.start({ runDir: ctx.runDir, logger: ctx.logger });
    this.#blocks = new BlockManager({
      provider: this.provider,
      logger: ctx.logger,
      scaling: ctx.scaling,
      workersPerNode: () => this.workersPerNode(),
      outstanding: () => this.#pending.size,
      command: (id) => this.#command(id),
      onAllBlocksFailed: (why) => this.#fail(new ProviderError(why)),
      blocksGone: (blocks, why) => this.#out?.send(pack({ t: "drop-blocks", blocks, why })),
      onBlockState: (b) => ctx.monitor?.block(b.id, b.jobId, b.status.state),
      blockIdleness: async () => {
        const idle = new Map<string, number | undefined>();
        for (const m of await this.managers()) {
          const since = m.running > 0 ? undefined : m.idleSince;
          // A block is as idle as its busiest manager.
          const prev = idle.has(m.block) ? idle.get(m.block) : Infinity;
          idle.set(m.block, since === undefined || prev === undefined ? undefined : Math.min(prev, since));
        }
        return idle;
      },
    });
    await this.#blocks.start();
  }

  #command(blockId: string): string {
    const o = this.options;
    const args = [
      this.workerCommand,
      "worker-pool",
      `--url ${this.#ix!.workerUrl}`,
      `--block ${blockId}`,
      `--cores-per-worker ${o.coresPerWorker}`,
      `--prefetch ${o.prefetchCapacity}`,
      `--heartbeat-period ${o.heartbeatPeriod}`,
      `--heartbeat-threshold ${o.heartbeatThreshold}`,
    ];
    if (o.maxWorkersPerNode !== undefined) args.push(`--max-workers ${o.maxWorkersPerNode}`);
    if (o.memPerWorker !== undefined) args.push(`--mem-per-worker ${o.memPerWorker}`);
    if (o.accelerators.length > 0) args.push(`--accelerators ${o.accelerators.join(",")}`);
    if (this.#certDir !== undefined) args.push(`--cert-dir ${this.#certDir}`);
    if (this.mpi !== undefined) {
      args.push(`--mpi-launcher ${this.mpi.launcher}`, `--mpi-command ${quote(this.mpi.command)}`);
      if (this.mpi.overrides !== "") args.push(`--mpi-overrides ${quote(this.mpi.overrides)}`);
    }
    return args.join(" ");
  }

  async #receive(sock: Dealer): Promise<void> {
    try {
      for await (const frames of sock) this.#onMessage(unpack(frames));
    } catch (e) {
      if (!this.#closing) this.#fail(new ProviderError(`lost the interchange connection: ${String(e)}`));
    }
  }

  #onMessage(msg: Message): void {
    switch (msg.t) {
      case "results": {
        const at = this.#ctx?.monitor === undefined ? undefined : Date.now();
        for (const r of msg.results) {
          const t = this.#pending.get(r.id);
          if (t === undefined) continue;
          this.#pending.delete(r.id);
          const [ok, v, ms, resources, worker] = v8.deserialize(r.payload) as Outcome;
          const info: ResultInfo = { runMs: ms, resources, worker, at };
          if (ok) this.#ctx!.onResult(t, true, isPrimitive(v) ? v : reviveFiles(v), info);
          else this.#ctx!.onResult(t, false, errorFromJSON(v as ErrorJSON), info);
        }
        return;
      }
      case "lost":
        for (const id of msg.ids) {
          const t = this.#pending.get(id);
          if (t === undefined) continue;
          this.#pending.delete(id);
          const err =
            msg.error === "manager"
              ? new ManagerLostError(msg.manager, msg.hostname)
              : msg.error === "worker"
                ? new WorkerLostError(msg.manager, msg.hostname, msg.detail)
                : new ConfigError(`task ${t.id} (app ${t.fn.name}) can run on no node: it ${msg.detail}`);
          this.#ctx!.onResult(t, false, err);
        }
        return;
      case "block":
        this.#blocks?.managerEvent(msg.block, msg.event);
        if (msg.node !== undefined) {
          const n = msg.node;
          this.#ctx?.monitor?.node({
            manager: msg.manager,
            host: n.hostname,
            block: msg.block,
            workers: n.workers,
            cores: n.cores,
            memoryMB: n.memory,
            active: msg.event === "registered",
          });
        }
        return;
      case "managers":
        this.#managerQueries.shift()?.(msg.managers);
        return;
      default:
        return;
    }
  }

  /**
   * The managers connected to the interchange now (Parsl's `connected_managers`).
   * @example
   * ```ts
   * for (const m of await htex.managers()) console.log(m.hostname, m.workers, m.running);
   * ```
   */
  managers(): Promise<ManagerInfo[]> {
    if (this.#out === undefined || this.#bad !== undefined) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.#managerQueries.push(resolve);
      this.#out!.send(pack({ t: "managers?" }));
    });
  }

  validateResources(r: Resources): void {
    const n = r.numNodes ?? 1;
    if (n > 1 && this.mpi === undefined) {
      throw new ConfigError(
        `HighThroughputExecutor "${this.label}": resources.numNodes = ${n} needs MPI mode (options.mpiLauncher "srun" or "mpiexec")`,
      );
    }
    if (this.mpi !== undefined && n > this.provider.nodesPerBlock) {
      throw new ConfigError(
        `HighThroughputExecutor "${this.label}": resources.numNodes = ${n} is more than a block has (nodesPerBlock = ${this.provider.nodesPerBlock})`,
      );
    }
  }

  outstanding(): number {
    return this.#pending.size;
  }

  submit(task: ExecTask): void {
    if (this.#bad) return this.#ctx!.onResult(task, false, this.#bad);
    let payload: Uint8Array;
    try {
      payload = v8.serialize({
        fn: task.fn,
        args: task.args,
        walltime: task.walltime,
        shell: task.shell,
        staging: task.staging,
        measure: task.measure,
        name: this.#ctx?.monitor !== undefined,
        memory: task.resources?.memory,
      });
    } catch (e) {
      const problem =
        task.args.map(cloneProblem).find((p) => p !== undefined) ?? (e instanceof Error ? e.message : String(e));
      return this.#ctx!.onResult(
        task,
        false,
        new SerializationError(
          `an argument of app ${task.fn.name} cannot be sent to a worker (${problem}); arguments must be structured-cloneable`,
        ),
      );
    }
    this.#pending.set(task.id, task);
    let app = this.#appIds.get(task.fn.key);
    if (app === undefined) this.#appIds.set(task.fn.key, (app = this.#appIds.size));
    const env: TaskEnvelope = { id: task.id, payload, app };
    if (task.priority !== undefined) env.priority = task.priority;
    if (task.resources !== undefined) env.resources = task.resources;
    if (task.walltime !== undefined && task.fn.kind === "app") env.walltime = task.walltime;
    this.#batch.push(env);
    this.#batchBytes += payload.byteLength;
    // Big arguments go out at once, so no message grows past a few MB (pack, copy and unpack stay cheap).
    if (this.#batchBytes >= BATCH_BYTES) return this.#flush();
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#batch.length === 0) return;
    this.#out?.send(pack({ t: "submit", tasks: this.#batch }));
    this.#batch = [];
    this.#batchBytes = 0;
  };

  cancel(taskId: number): boolean {
    if (!this.#pending.delete(taskId)) return false;
    this.#out?.send(pack({ t: "cancel", ids: [taskId] }));
    return true;
  }

  // The executor cannot run tasks any more: every outstanding one fails, and later ones at once.
  #fail(err: Error): void {
    if (this.#bad) return;
    this.#bad = err;
    this.#ctx?.logger.error("executor failed", { label: this.label, error: err.message });
    for (const q of this.#managerQueries.splice(0)) q([]);
    const tasks = [...this.#pending.values()];
    this.#pending.clear();
    for (const t of tasks) this.#ctx?.onResult(t, false, err);
  }

  async shutdown(error: Error): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#fail(error);
    this.#out?.send(pack({ t: "shutdown" }));
    await this.#blocks
      ?.stop()
      .catch((e: unknown) => this.#ctx?.logger.warn("block cancel failed", { error: String(e) }));
    const proc = this.#ix?.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((r) => proc.once("exit", () => r()));
      proc.stdin?.end();
      const t = setTimeout(() => proc.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(t);
    }
    this.#sock?.close();
  }
}
