// HTEX on a real SLURM: time from load() to the first result (sbatch, scheduling, worker pool start, one task),
// and no-op / 100 ms tasks/s through workers SLURM started. Needs SLURM running (as root:
// `bash test/services/slurm-up.sh`). Usage: npx tsx benchmarks/slurm.ts
import { performance } from "node:perf_hooks";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { load, HighThroughputExecutor, SlurmProvider, SrunLauncher, type AppFuture } from "taskloom";
import { noop, sleepMs } from "./apps.js";

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-slurm-bench-"));
const t0 = performance.now();
const k = await load({
  executors: [
    new HighThroughputExecutor({
      maxWorkersPerNode: 2,
      provider: new SlurmProvider({
        nodesPerBlock: 2,
        launcher: new SrunLauncher(),
        exclusive: true,
        statusPollingInterval: 1,
      }),
    }),
  ],
  runDir,
  initializeLogging: false,
});
const loaded = performance.now();
await noop(0);
const first = performance.now();
console.log(
  JSON.stringify({
    bench: "slurm_first_result",
    loadMs: +(loaded - t0).toFixed(1),
    firstResultMs: +(first - t0).toFixed(1),
    nodes: 2,
    workersPerNode: 2,
  }),
);
for (const [name, n, run] of [
  ["noop", 20_000, (i: number) => noop(i)],
  ["sleep_100ms", 200, () => sleepMs(100)],
] as const) {
  const t = performance.now();
  const futs: AppFuture<number>[] = [];
  for (let i = 0; i < n; i++) futs.push(run(i));
  await Promise.all(futs);
  const s = (performance.now() - t) / 1000;
  console.log(
    JSON.stringify({
      bench: "slurm_tasks",
      kind: name,
      tasks: n,
      tasksPerSec: Math.round(n / s),
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    }),
  );
}
await k.cleanup();
fs.rmSync(runDir, { recursive: true, force: true });
