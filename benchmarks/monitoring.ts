// What monitoring costs: no-op tasks/s with monitoring off and on, side by side, on both executors, as JSON lines.
// Each (executor, monitoring) pair runs in a process of its own; best of 3 runs of N tasks after a warm-up. The
// processes take turns (off, on, on+resources, off, …) `--reps` times and the best of each setting counts, so a
// machine busy with something else for a moment does not tilt the comparison.
// A long stream (`--tasks=2000000 --rounds=1`) shows the sustained cost, where the store's writer spools behind the
// workflow the whole time instead of catching up between bursts.
// Usage: npx tsx benchmarks/monitoring.ts [--tasks=N] [--reps=N] [--rounds=N] [--executor=threads|htex]
//        [--modes=off,on,on+resources]
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { load, HighThroughputExecutor, LocalProvider, ThreadPoolExecutor, type Executor } from "taskloom";
import { noop } from "./apps.js";

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const tasks = Number(arg("tasks") ?? 100_000);
const reps = Number(arg("reps") ?? 3);
const rounds = Number(arg("rounds") ?? 3);
const modes = arg("modes")?.split(",") ?? ["off", "on", "on+resources"];
const child = arg("run"); // "threads:on" etc. in the child process

if (child === undefined) {
  for (const ex of arg("executor")?.split(",") ?? ["threads", "htex"]) {
    const results: Record<string, number> = {};
    for (let rep = 0; rep < reps; rep++) {
      for (const mon of modes) {
        const r = spawnSync(
          process.execPath,
          [
            "--import",
            "tsx",
            fileURLToPath(import.meta.url),
            `--run=${ex}:${mon}`,
            `--tasks=${tasks}`,
            `--rounds=${rounds}`,
          ],
          { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
        );
        const line = r.stdout.trim().split("\n").pop()!;
        console.log(line);
        results[mon] = Math.max(results[mon] ?? 0, (JSON.parse(line) as { tasksPerSec: number }).tasksPerSec);
      }
    }
    console.log(
      JSON.stringify({
        bench: "monitoring_cost",
        executor: ex,
        tasks,
        reps,
        rounds,
        off: results.off,
        on: results.on,
        costPct: Math.round((1 - results.on! / results.off!) * 1000) / 10,
        ...(results["on+resources"] !== undefined
          ? {
              onWithResources: results["on+resources"],
              costWithResourcesPct: Math.round((1 - results["on+resources"] / results.off!) * 1000) / 10,
            }
          : {}),
      }),
    );
  }
} else {
  const [ex, mon] = child.split(":");
  const workers = os.availableParallelism();
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-monbench-"));
  const make = (): Executor =>
    ex === "threads"
      ? new ThreadPoolExecutor({ maxThreads: workers })
      : new HighThroughputExecutor({ maxWorkersPerNode: workers, provider: new LocalProvider() });
  const monitoring = mon === "off" ? false : { resources: mon === "on+resources" };
  const k = await load({ executors: [make()], runDir, monitoring, initializeLogging: false });
  await Promise.all(Array.from({ length: 5000 }, (_, i) => noop(i)));
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    for (let i = 0; i < tasks; i++) noop(i);
    await k.waitForCurrentTasks();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  const t1 = performance.now();
  await k.cleanup();
  const closeSeconds = (performance.now() - t1) / 1000;
  let rows: number | undefined;
  if (mon !== "off") {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(path.join(k.runDir, "monitoring.db"), { readonly: true });
    rows = (db.prepare("SELECT count(*) AS n FROM task").get() as { n: number }).n;
    db.close();
  }
  console.log(
    JSON.stringify({
      bench: "noop",
      executor: ex,
      monitoring: mon,
      tasks,
      seconds: Math.round(best * 1000) / 1000,
      tasksPerSec: Math.round(tasks / best),
      cleanupSeconds: Math.round(closeSeconds * 100) / 100,
      ...(rows !== undefined ? { taskRowsStored: rows } : {}),
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
      workers,
    }),
  );
  fs.rmSync(runDir, { recursive: true, force: true });
}
