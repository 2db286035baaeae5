// Throughput and latency of each executor, as JSON lines (one per measurement), side by side.
// Usage: npx tsx benchmarks/throughput.ts [--quick] [--only=name,...] [--executor=threads|htex]
import { performance } from "node:perf_hooks";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  load,
  HighThroughputExecutor,
  LocalProvider,
  ThreadPoolExecutor,
  type AppFuture,
  type Config,
  type DataFlowKernel,
  type Executor,
} from "taskloom";
import { noop, inc, gather, size, shTrue, echoHi } from "./apps.js";

const quick = process.argv.includes("--quick");
const only = process.argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
const threads = os.availableParallelism();
const executorArg = process.argv.find((a) => a.startsWith("--executor="))?.slice(11);
const executors = executorArg ? [executorArg] : ["threads", "htex"];
const executor = executors[0]!;
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-bench-"));

function emit(rec: Record<string, unknown>): void {
  const rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  console.log(JSON.stringify({ executor, ...rec, workers: threads, rssMiB, node: process.version }));
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function withKernel(
  fn: (k: DataFlowKernel) => Promise<void>,
  logging: Config["initializeLogging"] = false,
): Promise<void> {
  const k = await load({ executors: [makeExecutor()], runDir, initializeLogging: logging });
  try {
    await fn(k);
  } finally {
    await k.cleanup();
  }
}

function makeExecutor(): Executor {
  if (executor === "threads") return new ThreadPoolExecutor({ maxThreads: threads });
  if (executor === "htex")
    return new HighThroughputExecutor({ maxWorkersPerNode: threads, provider: new LocalProvider() });
  throw new Error(`unknown executor ${executor}; have threads, htex`);
}

async function warm(): Promise<void> {
  await Promise.all(Array.from({ length: 2000 }, (_, i) => noop(i)));
}

// Peak RSS for 1M no-op tasks, the futures all held. Two ways to wait: Promise.all over every
// future (JavaScript adds ~0.5 KB of promises per future) and the kernel's waitForCurrentTasks().
async function million(wait: "promiseAll" | "waitForCurrentTasks"): Promise<void> {
  const n = quick ? 200_000 : 1_000_000;
  await withKernel(async (k) => {
    await warm();
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const t0 = performance.now();
    const fs = new Array<AppFuture<number>>(n);
    for (let i = 0; i < n; i++) fs[i] = noop(i);
    if (wait === "promiseAll") await Promise.all(fs);
    else await k.waitForCurrentTasks();
    const s = (performance.now() - t0) / 1000;
    clearInterval(sample);
    peak = Math.max(peak, process.memoryUsage().rss);
    if (!fs.every((f) => f.done())) throw new Error("not all done");
    emit({
      bench: "noop_peak_rss",
      wait,
      tasks: n,
      seconds: +s.toFixed(3),
      tasksPerSec: Math.round(n / s),
      peakRssMiB: Math.round(peak / 2 ** 20),
    });
  });
}

const benches: Record<string, () => Promise<void>> = {
  async noop() {
    for (const n of quick ? [10_000] : [10_000, 100_000]) {
      await withKernel(async () => {
        await warm();
        const t0 = performance.now();
        const fs = new Array<AppFuture<number>>(n);
        for (let i = 0; i < n; i++) fs[i] = noop(i);
        await Promise.all(fs);
        const s = (performance.now() - t0) / 1000;
        emit({ bench: "noop", tasks: n, seconds: +s.toFixed(3), tasksPerSec: Math.round(n / s) });
      });
    }
  },
  // What logging costs: the default level (info: no per-task lines) and debug (two lines per task).
  async logging() {
    for (const level of ["info", "debug"] as const) {
      await withKernel(
        async () => {
          await warm();
          const n = 20_000;
          const t0 = performance.now();
          const fs = new Array<AppFuture<number>>(n);
          for (let i = 0; i < n; i++) fs[i] = noop(i);
          await Promise.all(fs);
          const s = (performance.now() - t0) / 1000;
          emit({ bench: "noop_logging", level, tasks: n, seconds: +s.toFixed(3), tasksPerSec: Math.round(n / s) });
        },
        { level },
      );
    }
  },
  async latency() {
    await withKernel(async () => {
      await warm();
      const n = quick ? 2000 : 10_000;
      const lat = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await noop(i);
        lat[i] = performance.now() - t0;
      }
      lat.sort((a, b) => a - b);
      emit({ bench: "latency", tasks: n, p50ms: +pct(lat, 50).toFixed(4), p99ms: +pct(lat, 99).toFixed(4) });
    });
  },
  async chain() {
    await withKernel(async () => {
      await warm();
      const n = 1000;
      const t0 = performance.now();
      let f: AppFuture<number> = inc(0);
      for (let i = 1; i < n; i++) f = inc(f);
      const v = await f;
      const ms = performance.now() - t0;
      if (v !== n) throw new Error(`chain gave ${v}`);
      emit({ bench: "chain", links: n, msPerLink: +(ms / n).toFixed(4) });
    });
  },
  async fanout() {
    await withKernel(async () => {
      await warm();
      const n = 10_000;
      const t0 = performance.now();
      const leaves = Array.from({ length: n }, (_, i) => noop(i));
      const total = await gather(...leaves);
      const s = (performance.now() - t0) / 1000;
      if (total !== n) throw new Error(`fan-in saw ${total}`);
      emit({ bench: "fanout_fanin", tasks: n + 1, seconds: +s.toFixed(3), tasksPerSec: Math.round((n + 1) / s) });
    });
  },
  // From calling load() to the first result in hand: what a short workflow waits before anything runs.
  async firstResult() {
    const t0 = performance.now();
    const k = await load({ executors: [makeExecutor()], runDir, initializeLogging: false });
    const loaded = performance.now();
    await noop(1);
    const first = performance.now();
    await k.cleanup();
    emit({ bench: "first_result", loadMs: +(loaded - t0).toFixed(1), firstResultMs: +(first - t0).toFixed(1) });
  },
  // Argument payload: each task gets a fresh byte array (a shared one would be cloned once per batch) and
  // returns its length; 32 tasks in flight, so the figure is the pipeline's rate, not the memory to queue them all.
  async payload() {
    await withKernel(async () => {
      await warm();
      for (const bytes of [0, 1024, 100 * 1024, 1024 * 1024]) {
        const n = bytes >= 1024 * 1024 ? (quick ? 200 : 1000) : bytes >= 100 * 1024 ? 4000 : 20_000;
        let next = 0;
        let bad = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: 32 }, async () => {
            while (next++ < n) if ((await size(new Uint8Array(bytes))) !== bytes) bad++;
          }),
        );
        const s = (performance.now() - t0) / 1000;
        if (bad > 0) throw new Error("payload arrived damaged");
        emit({
          bench: "payload",
          bytes,
          tasks: n,
          tasksPerSec: Math.round(n / s),
          mbPerSec: +((n * bytes) / 2 ** 20 / s).toFixed(1),
        });
      }
    });
  },
  // Shell apps: each a bash process; `true` and `echo hi` (stdout to a file, as Parsl's bash_app test).
  async shell() {
    await withKernel(async () => {
      const n = quick ? 500 : 2000;
      const out = path.join(runDir, "hi.out");
      await Promise.all(Array.from({ length: 50 }, () => shTrue()));
      for (const [name, run] of [
        ["true", () => shTrue()],
        ["echo hi", () => echoHi({ stdout: out })],
      ] as const) {
        const t0 = performance.now();
        await Promise.all(Array.from({ length: n }, run));
        const s = (performance.now() - t0) / 1000;
        emit({ bench: "shell", command: name, tasks: n, tasksPerSec: Math.round(n / s) });
      }
    });
  },
  million: () => million("promiseAll"),
  millionWait: () => million("waitForCurrentTasks"),
};

if (only) {
  for (const name of only) {
    const run = benches[name];
    if (!run) throw new Error(`unknown benchmark ${name}; have ${Object.keys(benches).join(", ")}`);
    await run();
  }
} else {
  // Each benchmark in a process of its own, so one's heap does not inflate the next one's RSS.
  for (const name of Object.keys(benches)) {
    for (const ex of executors) {
      const args = [
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        `--only=${name}`,
        `--executor=${ex}`,
        ...(quick ? ["--quick"] : []),
      ];
      const r = spawnSync(process.execPath, args, { stdio: "inherit" });
      if (r.status !== 0) process.exitCode = 1;
    }
  }
}
fs.rmSync(runDir, { recursive: true, force: true });
