/**
 * `taskloom worker-pool`: the per-node manager that providers start in each
 * block. Connects to the interchange at `--url`.
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { runManager, type ManagerOptions } from "../../executors/htex/manager.js";
import { discoverNodes } from "../../executors/htex/mpi.js";
import { readClientKeys, type ClientKeys } from "../../executors/htex/curve.js";

const USAGE = `usage: taskloom worker-pool --url tcp://HOST:PORT [--block ID] [--max-workers N] [--cores-per-worker C]
  [--mem-per-worker MB] [--accelerators a,b] [--prefetch N] [--heartbeat-period S] [--heartbeat-threshold S]
  [--cert-dir DIR]   (CurveZMQ keys of an encrypted interchange)
  [--mpi-launcher srun|mpiexec [--mpi-command CMD] [--mpi-overrides ARGS]]   (MPI mode: lend the block's nodes to tasks)`;

export async function workerPoolCommand(args: string[]): Promise<number> {
  let v: Record<string, string | undefined>;
  try {
    v = parseArgs({
      args,
      options: {
        url: { type: "string" },
        block: { type: "string", default: "0" },
        "max-workers": { type: "string" },
        "cores-per-worker": { type: "string", default: "1" },
        "mem-per-worker": { type: "string" },
        accelerators: { type: "string", default: "" },
        prefetch: { type: "string", default: "0" },
        "heartbeat-period": { type: "string", default: "30" },
        "heartbeat-threshold": { type: "string", default: "120" },
        "cert-dir": { type: "string" },
        "mpi-launcher": { type: "string" },
        "mpi-command": { type: "string" },
        "mpi-overrides": { type: "string", default: "" },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`taskloom worker-pool: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!v.url) {
    process.stderr.write(`taskloom worker-pool: --url is required\n${USAGE}\n`);
    return 2;
  }
  let o: {
    cores: number;
    memory: number;
    disk: number;
    workers: number;
    prefetch: number;
    period: number;
    threshold: number;
  };
  let curve: ClientKeys | undefined;
  let mpi: ManagerOptions["mpi"];
  const accelerators = v.accelerators ? v.accelerators.split(",").filter(Boolean) : [];
  try {
    if (!/^(tcp|ipc):\/\/\S+$/.test(v.url))
      throw new Error(`--url: expected tcp://HOST:PORT, got ${JSON.stringify(v.url)}`);
    // The node's size can be overridden by the batch system (as Parsl's PARSL_CORES / PARSL_MEMORY_GB).
    const cores = num("TASKLOOM_CORES", process.env.TASKLOOM_CORES, os.availableParallelism(), 0.001);
    const memory = num("TASKLOOM_MEMORY_MB", process.env.TASKLOOM_MEMORY_MB, Math.floor(os.totalmem() / 2 ** 20), 0);
    const disk = num("TASKLOOM_DISK_MB", process.env.TASKLOOM_DISK_MB, freeDiskMB(), 0);
    const perWorker = num("--cores-per-worker", v["cores-per-worker"], 1, 0.001);
    const limits = [Math.floor(cores / perWorker)];
    if (v["max-workers"] !== undefined) limits.push(num("--max-workers", v["max-workers"], 1, 1, true));
    if (v["mem-per-worker"] !== undefined)
      limits.push(Math.floor(memory / num("--mem-per-worker", v["mem-per-worker"], 1, 1)));
    if (accelerators.length > 0) limits.push(accelerators.length);
    o = {
      cores,
      memory,
      disk,
      workers: Math.max(1, Math.min(...limits)),
      prefetch: num("--prefetch", v.prefetch, 0, 0, true),
      period: num("--heartbeat-period", v["heartbeat-period"], 30, 0.01),
      threshold: num("--heartbeat-threshold", v["heartbeat-threshold"], 120, 0.01),
    };
    if (v["cert-dir"] !== undefined) curve = readClientKeys(v["cert-dir"]);
    const ml = v["mpi-launcher"];
    if (ml !== undefined) {
      if (ml !== "srun" && ml !== "mpiexec")
        throw new Error(`--mpi-launcher: expected srun or mpiexec, got ${JSON.stringify(ml)}`);
      const nodes = discoverNodes();
      mpi = { launcher: ml, command: v["mpi-command"] ?? ml, overrides: v["mpi-overrides"] ?? "", nodes };
      // One worker per node unless capped: the nodes, not the cores, are what tasks share.
      o.workers = v["max-workers"] !== undefined ? num("--max-workers", v["max-workers"], 1, 1, true) : nodes.length;
    }
  } catch (e) {
    process.stderr.write(`taskloom worker-pool: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  await runManager({
    curve,
    mpi,
    url: v.url,
    block: v.block!,
    workers: o.workers,
    prefetch: o.prefetch,
    heartbeatPeriod: o.period,
    heartbeatThreshold: o.threshold,
    cores: o.cores,
    memory: o.memory,
    disk: o.disk,
    accelerators,
  });
  return 0;
}

// Free space where tasks run (the working directory), in MB.
function freeDiskMB(): number {
  try {
    const st = fs.statfsSync(process.cwd());
    return Math.floor((st.bavail * st.bsize) / 2 ** 20);
  } catch {
    return 0;
  }
}

// A number option or environment variable, checked: the error names it and what it allows.
function num(name: string, text: string | undefined, fallback: number, min: number, int = false): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || (int && !Number.isInteger(n))) {
    throw new Error(`${name}: expected ${int ? "an integer" : "a number"} >= ${min}, got ${JSON.stringify(text)}`);
  }
  return n;
}
