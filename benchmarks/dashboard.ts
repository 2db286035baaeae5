// How fast the dashboard's queries answer on a store of 1M tasks, as JSON lines: one per query (`ms` warm median,
// `coldMs` on a fresh connection) and a summary naming the slowest. The store (1M tasks over 20 apps, ~1.05M tries over
// 64 workers, ~4 status rows per task, a resource row per try, failures with stacks, a DAG of 0–3 earlier tasks each,
// a few hundred block and node rows) is built once and cached in os.tmpdir(), keyed by a hash of the schema. Like a
// store the monitor writes, it has no ANALYZE statistics: the queries must pick their indexes without them.
// Usage: npx tsx benchmarks/dashboard.ts [--tasks=N] [--rebuild] [--build-only]
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { SCHEMA } from "../lib/monitoring/schema.js";

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const TASKS = Number(arg("tasks") ?? 1_000_000);
const RUN = "bench-dashboard-1";
const APPS = Array.from({ length: 20 }, (_, i) => `pipeline/stages.stage${String(i).padStart(2, "0")}`);
const WORKERS = 64;
const T0 = 1_700_000_000_000;
/** Bumped when the generated data changes, so a cached store is rebuilt. */
const GENERATOR_VERSION = 2;

/** Deterministic PRNG (mulberry32): the same store on every machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STACK = Array.from(
  { length: 12 },
  (_, i) => `    at stage${i} (file:///home/user/flow/pipeline/stages.js:${40 + i * 7}:${11 + i})`,
).join("\n");

function build(file: string): void {
  const db = new Database(file);
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -1000000");
  const tables = SCHEMA.filter((s) => /^CREATE TABLE/i.test(s));
  const indexes = SCHEMA.filter((s) => !/^CREATE TABLE/i.test(s));
  for (const ddl of tables) db.exec(ddl);
  const ins = (table: string, n: number) =>
    db.prepare(`INSERT INTO ${table} VALUES (${Array.from({ length: n }, () => "?").join(",")})`);
  const task = ins("task", 11);
  const attempt = ins("try", 14);
  const status = ins("status", 5);
  const resource = ins("resource", 10);
  const block = ins("block", 6);
  const node = ins("node", 10);
  const rand = rng(42);
  const clock = Array.from({ length: WORKERS }, (_, w) => T0 + w * 3);
  let lastReturn = T0;
  db.transaction(() => {
    db.prepare(`INSERT INTO workflow VALUES (?,?,?,?,?,?,?,?,?)`).run(
      RUN,
      "bench.ts",
      "/home/user/flow/runinfo/000",
      "login1",
      "user",
      T0 - 500,
      null,
      null,
      null,
    );
    for (let id = 0; id < TASKS; id++) {
      const app = APPS[Math.floor(rand() * rand() * APPS.length)]!;
      const executor = app.endsWith("00") || app.endsWith("01") ? "threads" : "htex";
      const deps = new Set<number>();
      const k = id === 0 ? 0 : Math.floor(rand() * 4);
      for (let j = 0; j < k; j++) deps.add(id - 1 - Math.floor(rand() * Math.min(id, 2000)));
      // a few gather tasks wait for the first task (the "config" one): far-away dependents
      if (id > 0 && id % 10_000 === 0) deps.add(0);
      const w = id % WORKERS;
      const invoked = clock[w]! - Math.floor(rand() * 200);
      const depFail = rand() < 0.002;
      const tries = depFail ? 0 : rand() < 0.05 ? 2 : 1;
      const finalFail = tries > 0 && rand() < 0.01;
      let at = invoked;
      status.run(RUN, id, 0, "pending", invoked);
      for (let t = 0; t < tries; t++) {
        const launched = Math.max(clock[w]!, invoked + 5);
        const long = rand() < 0.001;
        const ms = long ? 30_000 + Math.floor(rand() * 90_000) : 20 + Math.floor(rand() * rand() * 1500);
        const running = launched + Math.floor(rand() * rand() * 40);
        const returned = running + ms;
        clock[w] = returned + 1 + Math.floor(rand() * 10);
        lastReturn = Math.max(lastReturn, returned);
        const ok = t === tries - 1 && !finalFail;
        status.run(RUN, id, t, "launched", launched);
        status.run(RUN, id, t, "running", running);
        attempt.run(
          RUN,
          id,
          t,
          executor,
          `node${String(w >> 3).padStart(3, "0")}`,
          executor === "htex" ? `${w >> 4}` : null,
          `node${String(w >> 3).padStart(3, "0")}:${10_000 + w}`,
          launched,
          running,
          returned,
          ok ? 1 : 0,
          ok ? null : "ValueError",
          ok ? null : `bad input in record ${id}: expected a number, got "n/a"`,
          ok ? null : `ValueError: bad input in record ${id}\n${STACK}`,
        );
        resource.run(
          RUN,
          id,
          t,
          returned,
          20_000 + w,
          40_000 + Math.floor(rand() * 400_000),
          ms * 0.8 * rand(),
          ms * 0.05 * rand(),
          ms,
          executor === "threads" ? null : 0,
        );
        at = returned;
      }
      const state = depFail ? "dep_fail" : finalFail ? "failed" : "exec_done";
      status.run(RUN, id, Math.max(0, tries - 1), state, at + 1);
      const fails = finalFail ? tries : tries - 1 > 0 ? 1 : 0;
      task.run(
        RUN,
        id,
        app,
        JSON.stringify([...deps].sort((a, b) => a - b)),
        depFail ? null : executor,
        rand() < 0.1 ? 1 : 0,
        rand() < 0.2 ? JSON.stringify({ cores: 1 + Math.floor(rand() * 8), memory: 512 }) : null,
        invoked,
        at + 1,
        Math.max(0, fails),
        state,
      );
    }
    const states = ["PENDING", "RUNNING", "COMPLETED"];
    for (let b = 0; b < 80; b++) {
      const start = T0 + Math.floor(((lastReturn - T0) * b) / 80);
      states.forEach((s, i) => block.run(RUN, "htex", `${b}`, i === 0 ? null : `${9000 + b}`, s, start + i * 60_000));
      for (let m = 0; m < 2; m++) {
        const manager = `mgr-${b}-${m}`;
        node.run(RUN, "htex", manager, `node${b}`, `${b}`, 16, 32, 64_000, 1, start + 60_000);
        node.run(RUN, "htex", manager, `node${b}`, `${b}`, 16, 32, 64_000, 0, start + 180_000);
      }
    }
  })();
  for (const ddl of indexes) db.exec(ddl);
  db.close();
}

/** The cached store for this schema and generator, built when missing (or with --rebuild). */
function store(): { file: string; buildMs: number | null } {
  const hash = crypto
    .createHash("sha256")
    .update(JSON.stringify({ SCHEMA, GENERATOR_VERSION, TASKS }))
    .digest("hex")
    .slice(0, 12);
  const file = path.join(os.tmpdir(), `taskloom-dashboard-bench-${hash}.db`);
  if (fs.existsSync(file) && !process.argv.includes("--rebuild")) return { file, buildMs: null };
  const partial = `${file}.${process.pid}.partial`;
  fs.rmSync(partial, { force: true });
  const t0 = performance.now();
  try {
    build(partial);
    fs.renameSync(partial, file);
  } finally {
    fs.rmSync(partial, { force: true });
  }
  return { file, buildMs: Math.round(performance.now() - t0) };
}

const { file, buildMs } = store();
const bytes = fs.statSync(file).size;
console.log(JSON.stringify({ bench: "dashboard_store", file, tasks: TASKS, buildMs, cached: buildMs === null, bytes }));
if (process.argv.includes("--build-only")) process.exit(0);

const { openStore, resolveRun } = await import("../lib/monitoring/read.js");
const q = await import("../lib/dashboard/queries.js");

const detailTask = Math.floor(TASKS / 2) - 7;
const probe = openStore(file);
const overview = q.runOverview(probe, RUN)!;
const span = (overview.lastReturn ?? T0) - (overview.firstLaunch ?? T0);
const zoomFrom = (overview.firstLaunch ?? T0) + Math.floor(span * 0.6);
probe.close();

type Db = ReturnType<typeof openStore>;
const count = (v: unknown): number => {
  if (Array.isArray(v)) return v.length;
  const o = v as Record<string, unknown>;
  if ("tasks" in o) return (o.tasks as unknown[]).length;
  if ("points" in o) return (o.points as unknown[]).length;
  if ("workers" in o && Array.isArray(o.workers)) {
    return (o.workers as { bars: unknown[] }[]).reduce((n, w) => n + w.bars.length, 0);
  }
  if ("nodes" in o && "edges" in o) return (o.nodes as unknown[]).length + (o.edges as unknown[]).length;
  if ("blocks" in o) return (o.blocks as unknown[]).length + (o.nodes as unknown[]).length;
  if ("tries" in o) return (o.tries as unknown[]).length + (o.dependents as unknown[]).length;
  if ("apps" in o) return (o.apps as unknown[]).length;
  return 1;
};

const queries: [string, (db: Db) => unknown][] = [
  ["runSummaries", (db) => q.runSummaries(db)],
  ["runOverview", (db) => q.runOverview(db, RUN)],
  ["taskPage first", (db) => q.taskPage(db, RUN, {})],
  ["taskPage state=failed", (db) => q.taskPage(db, RUN, { state: "failed", limit: 500 })],
  ["taskPage app+state", (db) => q.taskPage(db, RUN, { app: APPS[7]!, state: "exec_done", after: 400_000 })],
  // the commonest app (~20% of tasks) with a rare state, then with the commonest state
  ["taskPage app+dep_fail", (db) => q.taskPage(db, RUN, { app: APPS[0]!, state: "dep_fail" })],
  ["taskPage app+exec_done", (db) => q.taskPage(db, RUN, { app: APPS[0]!, state: "exec_done" })],
  ["taskPage deep", (db) => q.taskPage(db, RUN, { after: TASKS - 300, limit: 500 })],
  ["taskDetail middle", (db) => q.taskDetail(db, RUN, detailTask)],
  ["taskDetail task 0", (db) => q.taskDetail(db, RUN, 0)],
  // few dependents: the scan for them runs to the last task
  ["taskDetail task 1", (db) => q.taskDetail(db, RUN, 1)],
  ["dagSlice start", (db) => q.dagSlice(db, RUN)],
  ["dagSlice end", (db) => q.dagSlice(db, RUN, TASKS - 2000, TASKS - 1)],
  ["timeline full", (db) => q.timeline(db, RUN)],
  ["timeline zoom 1s", (db) => q.timeline(db, RUN, zoomFrom, zoomFrom + 1000)],
  ["timeline zoom 1min", (db) => q.timeline(db, RUN, zoomFrom, zoomFrom + 60_000)],
  ["resourcePoints", (db) => q.resourcePoints(db, RUN)],
  ["resourcePoints app", (db) => q.resourcePoints(db, RUN, APPS[3])],
  ["blockHistory", (db) => q.blockHistory(db, RUN)],
  ["resolveRun", (db) => resolveRun(db)],
];

const results: { query: string; ms: number; coldMs: number }[] = [];
for (const [name, run] of queries) {
  const db = openStore(file);
  try {
    let t = performance.now();
    const answer = run(db);
    const coldMs = performance.now() - t;
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      run(db);
      warm.push(performance.now() - t);
    }
    warm.sort((a, b) => a - b);
    const ms = warm[2]!;
    results.push({ query: name, ms, coldMs });
    const round = (x: number) => Math.round(x * 10) / 10;
    console.log(
      JSON.stringify({
        bench: "dashboard_query",
        query: name,
        ms: round(ms),
        coldMs: round(coldMs),
        rows: count(answer),
      }),
    );
  } finally {
    db.close();
  }
}
const slowest = results.reduce((a, b) => (Math.max(b.ms, b.coldMs) > Math.max(a.ms, a.coldMs) ? b : a));
const worst = Math.round(Math.max(slowest.ms, slowest.coldMs) * 10) / 10;
console.log(
  JSON.stringify({
    bench: "dashboard_summary",
    tasks: TASKS,
    queries: results.length,
    slowest: slowest.query,
    slowestMs: worst,
    allUnder1s: worst < 1000,
    storeBuildMs: buildMs,
    storeBytes: bytes,
  }),
);
if (worst >= 1000) process.exitCode = 1;
