// Events per second the monitoring store's writer commits, for a realistic mix (per task: 1 task + 4 status +
// 1 try event), and tasks per second for the kernel's encoded batches (what a workflow sends), as JSON lines.
// SQLite always; PostgreSQL too (events only) when MONITORING_PG_URL is set.
// Usage: npx tsx benchmarks/monitoring-store.ts [--tasks=N]
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { MonitorEvent } from "../lib/monitoring/events.js";
import type { StoreTarget } from "../lib/monitoring/store.js";
import { StoreWriter } from "../lib/monitoring/writer.js";
import { EventLog } from "../lib/monitoring/event-log.js";

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

/** What a workflow does: the kernel's EventLog encodes each task (task, launched, try ending in exec_done) into columns. */
async function measureEncoded(name: string, target: StoreTarget): Promise<void> {
  const w = new StoreWriter(target);
  await w.ready();
  const log = new EventLog(`bench-${Date.now()}`, 60_000, (b) => w.postEncoded(b));
  const t0 = performance.now();
  for (let i = 0; i < tasks; i++) {
    const at = 1_700_000_000_000 + i;
    log.task(i, "noop", at, false);
    log.status(i, 0, "launched", at, "htex");
    log.try(i, 0, "htex", at, at + 1, true, "host:1", at, "exec_done");
  }
  log.flush();
  await w.flush();
  const seconds = (performance.now() - t0) / 1000;
  await w.close();
  console.log(
    JSON.stringify({ bench: "monitoring_store_encoded", store: name, tasks, tasksPerSec: Math.round(tasks / seconds) }),
  );
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-storebench-"));
try {
  await measure("sqlite", { sqlite: path.join(dir, "monitoring.db") });
  await measureEncoded("sqlite", { sqlite: path.join(dir, "encoded.db") });
  if (process.env.MONITORING_PG_URL) await measure("postgres", { postgres: process.env.MONITORING_PG_URL });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
