// Events per second the monitoring store's writer commits, for a realistic mix (per task: 1 task + 4 status +
// 1 try event), as JSON lines. SQLite always; PostgreSQL too when MONITORING_PG_URL is set.
// Usage: npx tsx benchmarks/monitoring-store.ts [--tasks=N]
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { MonitorEvent } from "../lib/monitoring/events.js";
import type { StoreTarget } from "../lib/monitoring/store.js";
import { StoreWriter } from "../lib/monitoring/writer.js";

const tasks = Number(process.argv.find((a) => a.startsWith("--tasks="))?.slice(8) ?? 50_000);

function taskEvents(run: string, task: number): MonitorEvent[] {
  const at = 1_700_000_000_000 + task;
  return [
    { t: "task", run, task, app: "noop", depends: [], invoked: at, memoize: false },
    ...["pending", "launched", "running", "exec_done"].map((state): MonitorEvent => ({
      t: "status",
      run,
      task,
      try: 0,
      state,
      at,
      executor: "htex",
    })),
    { t: "try", run, task, try: 0, executor: "htex", launched: at, returned: at + 1, ok: true },
  ];
}

async function measure(name: string, target: StoreTarget): Promise<void> {
  const w = new StoreWriter(target);
  await w.ready();
  const run = `bench-${Date.now()}`;
  const events = Array.from({ length: tasks }, (_, i) => taskEvents(run, i)).flat();
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 6000) w.post(events.slice(i, i + 6000));
  await w.flush();
  const seconds = (performance.now() - t0) / 1000;
  await w.close();
  console.log(
    JSON.stringify({
      bench: "monitoring_store",
      store: name,
      events: events.length,
      eventsPerSec: Math.round(events.length / seconds),
    }),
  );
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-storebench-"));
try {
  await measure("sqlite", { sqlite: path.join(dir, "monitoring.db") });
  if (process.env.MONITORING_PG_URL) await measure("postgres", { postgres: process.env.MONITORING_PG_URL });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
