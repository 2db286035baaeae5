/**
 * `taskloom worker-pool`: the per-node manager that providers start in each
 * block. Connects to the interchange at `--url`.
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { runManager } from "../../executors/htex/manager.js";
import { readClientKeys, type ClientKeys } from "../../executors/htex/curve.js";

const USAGE = `usage: taskloom worker-pool --url tcp://HOST:PORT [--block ID] [--max-workers N] [--cores-per-worker C]
  [--mem-per-worker MB] [--accelerators a,b] [--prefetch N] [--heartbeat-period S] [--heartbeat-threshold S]
  [--cert-dir DIR]   (CurveZMQ keys of an encrypted interchange)`;

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
  // The node's size can be overridden by the batch system (as Parsl's PARSL_CORES / PARSL_MEMORY_GB).
  const cores = Number(process.env.TASKLOOM_CORES ?? os.availableParallelism());
  const memory = Number(process.env.TASKLOOM_MEMORY_MB ?? Math.floor(os.totalmem() / 2 ** 20));
  const disk = Number(process.env.TASKLOOM_DISK_MB ?? freeDiskMB());
  const accelerators = v.accelerators ? v.accelerators.split(",").filter(Boolean) : [];
  const limits = [Math.floor(cores / Number(v["cores-per-worker"]))];
  if (v["max-workers"] !== undefined) limits.push(Number(v["max-workers"]));
  if (v["mem-per-worker"] !== undefined) limits.push(Math.floor(memory / Number(v["mem-per-worker"])));
  if (accelerators.length > 0) limits.push(accelerators.length);
  const workers = Math.max(1, Math.min(...limits));
  let curve: ClientKeys | undefined;
  if (v["cert-dir"] !== undefined) {
    try {
      curve = readClientKeys(v["cert-dir"]);
    } catch (e) {
      process.stderr.write(`taskloom worker-pool: ${(e as Error).message}\n`);
      return 2;
    }
  }
  await runManager({
    curve,
    url: v.url,
    block: v.block!,
    workers,
    prefetch: Number(v.prefetch),
    heartbeatPeriod: Number(v["heartbeat-period"]),
    heartbeatThreshold: Number(v["heartbeat-threshold"]),
    cores,
    memory,
    disk,
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
