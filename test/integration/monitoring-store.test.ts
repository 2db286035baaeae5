import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import type { MonitorEvent } from "../../lib/monitoring/events.js";
import type { StoreTarget } from "../../lib/monitoring/store.js";
import { StoreWriter } from "../../lib/monitoring/writer.js";
import { SqliteStore } from "../../lib/monitoring/sqlite-store.js";
import { EventDecoder, EventLog, type EncodedBatch } from "../../lib/monitoring/event-log.js";
import { ensureService, stopService } from "../helpers/services.js";
import { rejection, tmpDir, until } from "../helpers/tmp.js";

const PG_STATE = "/tmp/taskloom-postgres";
const PG_PROBE = `kill -0 "$(head -1 ${PG_STATE}/data/postmaster.pid)" && (exec 3<>/dev/tcp/127.0.0.1/$(cat ${PG_STATE}/port)) 2>/dev/null`;

type Row = Record<string, unknown>;
/** Runs a query with `?` placeholders against either database; BIGINTs come back as numbers. */
type Query = (sql: string, ...params: unknown[]) => Promise<Row[]>;

function sqliteQuery(file: string): { query: Query; close: () => void } {
  const db = new Database(file, { readonly: true });
  return { query: (sql, ...p) => Promise.resolve(db.prepare(sql).all(...p) as Row[]), close: () => db.close() };
}

function pgClient(url: string): pg.Client {
  return new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: ((oid: number, format: "text") =>
        oid === 20
          ? Number
          : (pg.types.getTypeParser(oid, format) as (v: string) => unknown)) as typeof pg.types.getTypeParser,
    },
  });
}

async function pgQuery(url: string): Promise<{ query: Query; close: () => Promise<void> }> {
  const c = pgClient(url);
  await c.connect();
  return {
    query: async (sql, ...p) => {
      let n = 0;
      return (
        await c.query(
          sql.replace(/\?/g, () => `$${++n}`),
          p,
        )
      ).rows as Row[];
    },
    close: () => c.end(),
  };
}

/** A realistic task's events: submitted, pending, launched, running, done, and its try. */
function taskEvents(run: string, task: number, at = 1_700_000_000_000 + task): MonitorEvent[] {
  const ex = "threads";
  return [
    { t: "task", run, task, app: "bench.noop", depends: task > 0 ? [task - 1] : [], invoked: at, memoize: false },
    { t: "status", run, task, try: 0, state: "pending", at },
    { t: "status", run, task, try: 0, state: "launched", at: at + 1, executor: ex },
    { t: "status", run, task, try: 0, state: "running", at: at + 2, executor: ex },
    { t: "status", run, task, try: 0, state: "exec_done", at: at + 3, executor: ex },
    { t: "try", run, task, try: 0, executor: ex, launched: at + 1, returned: at + 3, ok: true, worker: "h:1" },
  ];
}

/** Writes one event of every kind through a StoreWriter and checks each lands where docs/monitoring-schema.md says. */
async function checkEveryKind(target: StoreTarget, open: () => Promise<{ query: Query; close: () => unknown }>) {
  const run = `run-${Math.random().toString(36).slice(2)}`;
  const w = new StoreWriter(target);
  await w.ready();
  const wf = { t: "workflow", run, name: "wf", runDir: "/tmp/wf", host: "h1", user: "u1", began: 1000 } as const;
  const ex = "threads";
  w.post([
    wf,
    {
      t: "task",
      run,
      task: 0,
      app: "m.ok",
      depends: [],
      invoked: 1001,
      memoize: false,
      resources: { cores: 2, memory: 512 },
    },
    { t: "task", run, task: 1, app: "m.retry", depends: [0], invoked: 1002, memoize: false },
    { t: "task", run, task: 2, app: "m.bad", depends: [1], invoked: 1003, memoize: false },
    { t: "task", run, task: 3, app: "m.cached", depends: [], invoked: 1004, memoize: true },
    { t: "task", run, task: 5, app: "m.waiting", depends: [2], invoked: 1005, memoize: false },
    { t: "block", run, executor: "htex", block: "0", job: "123.sched", state: "PENDING", at: 1000 },
  ]);
  w.post([
    { t: "status", run, task: 0, try: 0, state: "pending", at: 1001 },
    { t: "status", run, task: 0, try: 0, state: "launched", at: 1005, executor: ex },
    { t: "status", run, task: 0, try: 0, state: "running", at: 1006, executor: ex },
    { t: "status", run, task: 0, try: 0, state: "exec_done", at: 1010, executor: ex },
    {
      t: "try",
      run,
      task: 0,
      try: 0,
      executor: ex,
      launched: 1005,
      returned: 1010,
      ok: true,
      worker: "h1:123",
      host: "h1",
      block: "0",
      resources: { peakRssKiB: 2048, cpuUserMs: 12.5, cpuSystemMs: 1.25, wallMs: 5, exitStatus: 0, pid: 123 },
    },
    { t: "status", run, task: 1, try: 0, state: "launched", at: 1011, executor: ex },
    {
      t: "try",
      run,
      task: 1,
      try: 0,
      executor: ex,
      launched: 1011,
      returned: 1012,
      ok: false,
      error: { name: "ValueError", message: "boom 0" },
    },
    { t: "status", run, task: 1, try: 1, state: "pending", at: 1013, executor: ex },
    { t: "block", run, executor: "htex", block: "0", job: "123.sched", state: "RUNNING", at: 1004 },
    {
      t: "node",
      run,
      executor: "htex",
      manager: "m-1",
      host: "h1",
      block: "0",
      workers: 4,
      cores: 8,
      memoryMB: 16000,
      active: true,
      at: 1004,
    },
  ]);
  await w.flush();
  w.post([
    { t: "status", run, task: 1, try: 1, state: "launched", at: 1020, executor: ex },
    {
      t: "try",
      run,
      task: 1,
      try: 1,
      executor: ex,
      launched: 1020,
      returned: 1029,
      ok: false,
      error: { name: "ValueError", message: "boom 1", stack: "at f (m.ts:1)" },
    },
    { t: "status", run, task: 1, try: 1, state: "failed", at: 1030, executor: ex },
    { t: "status", run, task: 2, try: 0, state: "dep_fail", at: 1031 },
    { t: "status", run, task: 3, try: 0, state: "memo_done", at: 1004 },
    // A batch resent after a reconnect must not fail nor duplicate the task.
    { t: "task", run, task: 0, app: "m.ok", depends: [], invoked: 1001, memoize: false },
    { ...wf, completed: 1040, tasksCompleted: 2, tasksFailed: 2 },
  ]);
  await w.close();

  const { query, close } = await open();
  try {
    expect(
      await query(
        `SELECT workflow_name, rundir, host, "user", time_began, time_completed, tasks_completed_count, tasks_failed_count FROM workflow WHERE run_id = ?`,
        run,
      ),
    ).to.deep.equal([
      {
        workflow_name: "wf",
        rundir: "/tmp/wf",
        host: "h1",
        user: "u1",
        time_began: 1000,
        time_completed: 1040,
        tasks_completed_count: 2,
        tasks_failed_count: 2,
      },
    ]);
    const tasks = await query(
      `SELECT task_id, task_func_name, task_depends, task_executor, task_memoize, task_resources, task_time_invoked,
         task_time_returned, task_fail_count, task_status_name FROM task WHERE run_id = ? ORDER BY task_id`,
      run,
    );
    expect(
      tasks.map((t) => [t.task_id, t.task_status_name, t.task_executor, t.task_time_returned, t.task_fail_count]),
    ).to.deep.equal([
      [0, "exec_done", ex, 1010, 0],
      [1, "failed", ex, 1030, 2],
      [2, "dep_fail", null, 1031, 0],
      [3, "memo_done", null, 1004, 0],
      [5, "pending", null, null, 0],
    ]);
    expect(JSON.parse(tasks[0]!.task_resources as string)).to.deep.equal({ cores: 2, memory: 512 });
    expect(tasks.map((t) => JSON.parse(t.task_depends as string) as number[])).to.deep.equal([[], [0], [1], [], [2]]);
    expect(tasks.map((t) => t.task_memoize)).to.deep.equal([0, 0, 0, 1, 0]);
    expect(tasks[1]).to.include({ task_func_name: "m.retry", task_time_invoked: 1002, task_resources: null });

    expect(
      await query(
        `SELECT try_id, task_status_name, timestamp FROM status WHERE run_id = ? AND task_id = 1 ORDER BY timestamp`,
        run,
      ),
    ).to.deep.equal([
      { try_id: 0, task_status_name: "launched", timestamp: 1011 },
      { try_id: 1, task_status_name: "pending", timestamp: 1013 },
      { try_id: 1, task_status_name: "launched", timestamp: 1020 },
      { try_id: 1, task_status_name: "failed", timestamp: 1030 },
    ]);
    expect(await query(`SELECT count(*) AS n FROM status WHERE run_id = ?`, run)).to.deep.equal([{ n: 10 }]);
    const tries = await query(`SELECT * FROM try WHERE run_id = ? ORDER BY task_id, try_id`, run);
    expect(tries.map((t) => [t.task_id, t.try_id, t.ok, t.error_name, t.error_message, t.error_stack])).to.deep.equal([
      [0, 0, 1, null, null, null],
      [1, 0, 0, "ValueError", "boom 0", null],
      [1, 1, 0, "ValueError", "boom 1", "at f (m.ts:1)"],
    ]);
    expect(tries[0]).to.include({
      task_executor: ex,
      hostname: "h1",
      block_id: "0",
      worker: "h1:123",
      task_try_time_launched: 1005,
      task_try_time_returned: 1010,
    });
    expect(
      await query(
        `SELECT task_id, try_id, timestamp, pid, peak_rss_kib, cpu_user_ms, cpu_system_ms, wall_ms, exit_status FROM resource WHERE run_id = ?`,
        run,
      ),
    ).to.deep.equal([
      {
        task_id: 0,
        try_id: 0,
        timestamp: 1010,
        pid: 123,
        peak_rss_kib: 2048,
        cpu_user_ms: 12.5,
        cpu_system_ms: 1.25,
        wall_ms: 5,
        exit_status: 0,
      },
    ]);
    expect(
      await query(
        `SELECT executor_label, block_id, job_id, status, timestamp FROM block WHERE run_id = ? ORDER BY timestamp`,
        run,
      ),
    ).to.deep.equal([
      { executor_label: "htex", block_id: "0", job_id: "123.sched", status: "PENDING", timestamp: 1000 },
      { executor_label: "htex", block_id: "0", job_id: "123.sched", status: "RUNNING", timestamp: 1004 },
    ]);
    expect(
      await query(
        `SELECT executor_label, manager_id, hostname, block_id, worker_count, cores, memory_mb, active, timestamp FROM node WHERE run_id = ?`,
        run,
      ),
    ).to.deep.equal([
      {
        executor_label: "htex",
        manager_id: "m-1",
        hostname: "h1",
        block_id: "0",
        worker_count: 4,
        cores: 8,
        memory_mb: 16000,
        active: 1,
        timestamp: 1004,
      },
    ]);
  } finally {
    await close();
  }
}

describe("monitoring store", function () {
  this.timeout(180_000);
  const tmp = tmpDir();
  after(() => tmp.remove());

  describe("SQLite", () => {
    it("writes every kind of event to its table and keeps each task's final state", async () => {
      const file = path.join(tmp.dir, "kinds", "monitoring.db");
      await checkEveryKind({ sqlite: file }, () => Promise.resolve(sqliteQuery(file)));
      const db = new Database(file, { readonly: true });
      expect(db.pragma("journal_mode", { simple: true })).to.equal("wal");
      db.close();
    });

    it("writes the kernel's encoded batches straight from their columns with the same rows as decoded events", async () => {
      // what a kernel records: dependencies, resources asked, retries, errors, measured tries, a task that spans
      // batches, an executor not chosen yet, block and node events
      const batches: EncodedBatch[] = [];
      const log = new EventLog("run-a", 60_000, (b) => batches.push(structuredClone(b)));
      const at = 1_700_000_000_000;
      log.other({ t: "workflow", run: "run-a", name: "wf", runDir: "/r", host: "h", user: "u", began: at });
      // more rows than one multi-row INSERT takes (32), in every table
      for (let i = 1; i <= 70; i++) {
        log.task(i, i % 3 === 0 ? "app.b" : "app.a", at + i, i % 5 === 0);
        if (i % 4 === 0) log.taskExtra({ t: "task+", task: i, depends: [i - 1, i - 2], resources: { cores: 2 } });
        log.status(i, 0, "launched", at + i + 1, "htex");
        if (i % 7 === 0) {
          log.try(i, 0, "htex", at + i + 1, at + i + 5, false, "w1", at + i + 2);
          log.other({ t: "try+", task: i, try: 0, error: { name: "TypeError", message: `bad ${i}`, stack: "at x" } });
          log.status(i, 1, "pending", at + i + 6, "htex");
          log.status(i, 1, "launched", at + i + 7, "htex");
        }
        if (i === 30) log.flush(); // task 30 ends in the next batch
        const tryNo = i % 7 === 0 ? 1 : 0;
        const final = i === 14 ? "failed" : "exec_done";
        // odd tasks end with their try (its row stands for the final status), even ones with a status row
        const fold = i % 2 === 1 ? final : undefined;
        log.try(
          i,
          tryNo,
          i === 9 ? "" : "htex",
          at + i + 7,
          at + i + 9,
          i !== 14,
          i % 2 ? "w1" : "w2",
          undefined,
          fold,
        );
        if (i % 6 === 0) {
          const resources = {
            peakRssKiB: 1000 + i,
            cpuUserMs: 1.5,
            cpuSystemMs: 0.5,
            wallMs: 2,
            pid: 77,
            exitStatus: 0,
          };
          log.other({ t: "try+", task: i, try: tryNo, resources, host: "node1", block: "0" });
        }
        if (fold === undefined) log.status(i, tryNo, final, at + i + 9, "htex");
      }
      log.other({ t: "block", run: "run-a", executor: "htex", block: "0", job: "42", state: "RUNNING", at });
      log.other({
        t: "node",
        run: "run-a",
        executor: "htex",
        manager: "m",
        host: "h",
        block: "0",
        workers: 2,
        active: true,
        at,
      });
      log.flush();
      expect(batches).to.have.length(2);

      const encodedFile = path.join(tmp.dir, "encoded.db");
      const decodedFile = path.join(tmp.dir, "decoded.db");
      const enc = SqliteStore.open(encodedFile);
      const dec = SqliteStore.open(decodedFile);
      const forEncoded = new EventDecoder();
      const forDecoded = new EventDecoder();
      for (const b of batches) {
        await enc.writeEncoded([{ batch: b, strings: forEncoded.absorb(b) }]);
        await dec.write(forDecoded.decode(b));
      }
      await enc.close();
      await dec.close();
      const dump = (file: string): Record<string, unknown[]> => {
        const db = new Database(file, { readonly: true });
        const out = Object.fromEntries(
          ["workflow", "task", "status", "try", "resource", "block", "node"].map((t) => [
            t,
            db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all(),
          ]),
        );
        db.close();
        return out;
      };
      const a = dump(encodedFile);
      expect(a).to.deep.equal(dump(decodedFile));
      expect(a.task).to.have.length(70);
      expect(a.try).to.have.length(80);
      expect(a.resource).to.have.length(11);
      expect(a.task![29]).to.include({ task_id: 30, task_status_name: "exec_done", task_executor: "htex" });
      expect(a.task![13]).to.include({ task_id: 14, task_status_name: "failed", task_fail_count: 2 });
      expect(a.task![6]).to.include({ task_id: 7, task_status_name: "exec_done", task_fail_count: 1 });
      type StatusRow = { task_id: number; try_id: number; task_status_name: string; timestamp: number };
      const ends = (a.status as StatusRow[]).filter((r) => ["exec_done", "failed"].includes(r.task_status_name));
      expect(ends.map((r) => r.task_id)).to.have.members(Array.from({ length: 70 }, (_, i) => i + 1));
      // a final state written with its try is that try's, at its return, and the task's last status
      expect(ends.find((r) => r.task_id === 7)).to.deep.include({ try_id: 1, timestamp: at + 16 });
      const ofSeven = (a.status as StatusRow[]).filter((r) => r.task_id === 7).map((r) => r.task_status_name);
      expect(ofSeven).to.deep.equal(["pending", "launched", "pending", "launched", "exec_done"]);
    });

    it("adds a column a newer taskloom writes to a store file made before it, keeping its rows", async () => {
      const file = path.join(tmp.dir, "old.db");
      const old = new Database(file);
      old.exec(`CREATE TABLE try (run_id TEXT NOT NULL, task_id INTEGER NOT NULL, try_id INTEGER NOT NULL,
        task_executor TEXT NOT NULL, hostname TEXT, block_id TEXT, worker TEXT,
        task_try_time_launched BIGINT NOT NULL, task_try_time_returned BIGINT NOT NULL, ok INTEGER NOT NULL,
        error_name TEXT, error_message TEXT, error_stack TEXT, PRIMARY KEY (run_id, task_id, try_id))`);
      old.prepare("INSERT INTO try VALUES ('r0', 1, 0, 'threads', NULL, NULL, 'w', 10, 20, 1, NULL, NULL, NULL)").run();
      old.close();
      const w = new StoreWriter({ sqlite: file });
      await w.ready();
      const at = 1_700_000_000_000;
      w.post([
        {
          t: "try",
          run: "r1",
          task: 1,
          try: 0,
          executor: "threads",
          launched: at,
          running: at + 5,
          returned: at + 9,
          ok: true,
        },
      ]);
      await w.close();
      const { query, close } = sqliteQuery(file);
      const rows = await query("SELECT run_id, task_try_time_running AS running FROM try ORDER BY run_id");
      close();
      expect(rows).to.deep.equal([
        { run_id: "r0", running: null },
        { run_id: "r1", running: at + 5 },
      ]);
    });

    it("stores 100k events while another connection reads in a loop, dropping none", async () => {
      const file = path.join(tmp.dir, "reader.db");
      const w = new StoreWriter({ sqlite: file });
      await w.ready();
      const reader = new Database(file, { readonly: true });
      const count = reader.prepare<[], { n: number }>("SELECT count(*) AS n FROM status");
      let done = false;
      const seen: number[] = [];
      // Long read transactions too: they hold back checkpoints, which must only grow the WAL.
      const reading = (async () => {
        while (!done) {
          reader.exec("BEGIN");
          seen.push(count.get()!.n);
          reader.prepare("SELECT task_status_name, count(*) FROM task GROUP BY 1").all();
          await new Promise((r) => setTimeout(r, 2));
          reader.exec("COMMIT");
          await new Promise((r) => setImmediate(r));
        }
      })();
      const tasks = 100_000 / 6;
      const all = Array.from({ length: Math.ceil(tasks) }, (_, i) => taskEvents("r", i)).flat();
      for (let i = 0; i < all.length; i += 1000) {
        w.post(all.slice(i, i + 1000));
        if (i % 10_000 === 0) await new Promise((r) => setImmediate(r));
      }
      await w.flush();
      done = true;
      await reading;
      expect(count.get()!.n).to.equal(all.filter((e) => e.t === "status").length);
      expect(reader.prepare("SELECT count(*) AS n FROM task WHERE task_status_name = 'exec_done'").get()).to.deep.equal(
        {
          n: Math.ceil(tasks),
        },
      );
      expect(reader.prepare("SELECT count(*) AS n FROM try").get()).to.deep.equal({ n: Math.ceil(tasks) });
      expect(new Set(seen).size, "the reader saw the tables grow").to.be.greaterThan(2);
      reader.close();
      await w.close();
    });

    it("holds a workflow's fast stream back while it lasts, writes it all after, and never holds a flush", async () => {
      const file = path.join(tmp.dir, "hot", "monitoring.db");
      const w = new StoreWriter({ sqlite: file });
      await w.ready();
      const log = new EventLog("hot", 60_000, (b) => w.postEncoded(b));
      const reader = new Database(file, { readonly: true });
      const stored = (): number => (reader.prepare("SELECT count(*) AS n FROM task").get() as Row).n as number;
      let posted = 0;
      // ~100k events/s for `ms`: a no-op workflow's pace, twice the rate at which the writer starts to yield
      const stream = async (ms: number, during?: () => Promise<void>): Promise<number> => {
        let seen = 0;
        const end = performance.now() + ms;
        let midway: Promise<void> | undefined;
        while (performance.now() < end) {
          for (let i = 0; i < 500; i++, posted++) {
            log.task(posted, "noop", posted, false);
            log.status(posted, 0, "launched", posted, "htex");
            log.try(posted, 0, "htex", posted, posted + 1, true, "w", posted, "exec_done");
          }
          log.flush();
          seen = Math.max(seen, stored());
          if (during !== undefined && midway === undefined && performance.now() > end - ms / 2) midway = during();
          await new Promise((r) => setTimeout(r, 20));
        }
        await midway;
        return seen;
      };
      try {
        // the first batches go before the rate is known; after that nothing is written while the stream lasts
        const seen = await stream(2000);
        expect(seen, "tasks the reader saw while the stream lasted").to.be.at.most(2000);
        expect(await until(() => stored() === posted, 20_000), "every task stored once it ends").to.equal(true);
        // a flush in the middle of a stream is written at once, the stream still going
        let atFlush = 0;
        let afterFlush = 0;
        await stream(3000, async () => {
          atFlush = posted;
          await w.flush();
          afterFlush = stored();
        });
        expect(afterFlush).to.be.at.least(atFlush);
        expect(afterFlush, "the flush did not wait for the stream to end").to.be.below(posted);
        await w.flush();
        expect(stored()).to.equal(posted);
      } finally {
        reader.close();
        await w.close();
      }
    });

    it("keeps every flushed batch when the process is killed, in a file that opens cleanly", async () => {
      const file = path.join(tmp.dir, "crash", "monitoring.db");
      const child = path.join(tmp.dir, "crash-child.mjs");
      const writerUrl = new URL("../../lib/monitoring/writer.ts", import.meta.url).href;
      // Posts batches of 60 tasks (360 events) back to back, several in flight, and reports each flushed batch.
      fs.writeFileSync(
        child,
        `const { StoreWriter } = await import(${JSON.stringify(writerUrl)});
         const w = new StoreWriter({ sqlite: ${JSON.stringify(file)} });
         await w.ready();
         const run = "crash";
         for (let b = 0; ; b++) {
           const events = [];
           for (let i = 0; i < 60; i++) {
             const task = b * 60 + i;
             events.push({ t: "task", run, task, app: "a", depends: [], invoked: task, memoize: false });
             for (const state of ["pending", "launched", "running", "exec_done"]) events.push({ t: "status", run, task, try: 0, state, at: task });
             events.push({ t: "try", run, task, try: 0, executor: "x", launched: task, returned: task, ok: true });
           }
           w.post(events);
           const f = w.flush().then(() => process.stdout.write(b + "\\n"));
           if (b % 4 === 3) await f;
         }`,
      );
      const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
      const proc = spawn(process.execPath, ["--import", tsx, child], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      let flushed = -1;
      const exited = new Promise<NodeJS.Signals | null>((r) => proc.once("exit", (_c, s) => r(s)));
      for await (const line of createInterface({ input: proc.stdout })) {
        flushed = Math.max(flushed, Number(line));
        if (flushed >= 40) {
          proc.kill("SIGKILL");
          break;
        }
      }
      expect(await exited, stderr).to.equal("SIGKILL");
      const db = new Database(file);
      expect(db.pragma("integrity_check", { simple: true })).to.equal("ok");
      const perBatch = db
        .prepare<[], { b: number; n: number; s: number }>(
          `SELECT task_id / 60 AS b, count(*) AS n, sum(task_status_name = 'exec_done') AS s FROM task GROUP BY 1 ORDER BY 1`,
        )
        .all();
      expect(perBatch.length).to.be.greaterThan(flushed);
      // Every batch up to the last flushed one is there, and every batch there is whole (one transaction).
      perBatch.forEach((r, i) => expect(r).to.deep.equal({ b: i, n: 60, s: 60 }));
      expect(db.prepare("SELECT count(*) AS n FROM status").get()).to.deep.equal({ n: perBatch.length * 240 });
      db.close();
    });

    it("reports a spool file removed under its running writer at the next flush instead of waiting for it", async () => {
      const dir = path.join(tmp.dir, "spool-gone");
      const w = new StoreWriter({ sqlite: path.join(dir, "monitoring.db") });
      await w.ready();
      const log = new EventLog("gone", 60_000, (b) => w.postEncoded(b));
      const spoolFile = (): string | undefined => fs.readdirSync(dir).find((f) => f.includes("-spool-"));
      try {
        // a no-op workflow's pace, until its batches are in a spool file
        for (let t = 0; !(spoolFile() !== undefined && fs.statSync(path.join(dir, spoolFile()!)).size > 0);) {
          for (let i = 0; i < 500; i++, t++) {
            log.task(t, "noop", t, false);
            log.try(t, 0, "x", t, t + 1, true, "w", t, "exec_done");
          }
          log.flush();
          await new Promise((r) => setTimeout(r, 5));
        }
        fs.rmSync(path.join(dir, spoolFile()!));
        const e = (await rejection(w.flush())) as Error;
        expect(e.message).to.match(/the spool file monitoring\.db-spool-\w+ lost \d+ bytes of batches/);
      } finally {
        await w.close().catch(() => undefined);
      }
    });

    it("tells a dead writer's spool from a running one's by host, pid namespace, pid and the process's start time", async () => {
      const { sessionAlive, sessionName } = await import("../../lib/monitoring/spool.js");
      const me = sessionName("id");
      expect(sessionAlive(me), "this process").to.equal(true);
      const [host, ns, pid, started] = me.split("/") as [string, string, string, string];
      expect(started, "a start time on Linux").to.match(/^\d+$/);
      const as = (h: string, n: string, p: string, t: string): boolean => sessionAlive([h, n, p, t, "id"].join("/"));
      expect(as(host, ns, pid, String(Number(started) + 1)), "another process under this pid").to.equal(false);
      const gone = spawn(process.execPath, ["-e", ""]);
      await new Promise((r) => gone.once("exit", r));
      expect(as(host, ns, String(gone.pid), started), "a process that exited").to.equal(false);
      // what cannot be checked from here counts as running: its spool is left to it
      expect(as("another-host", ns, String(gone.pid), started), "another host").to.equal(true);
      expect(as(host, "pid:[1]", String(gone.pid), started), "another pid namespace").to.equal(true);
    });

    it("spools a fast stream durably: what a killed workflow spooled, the next reader or writer puts in the tables", async () => {
      const dir = path.join(tmp.dir, "spool-crash");
      const child = path.join(tmp.dir, "spool-child.mjs");
      const url = (f: string): string => JSON.stringify(new URL(`../../lib/monitoring/${f}`, import.meta.url).href);
      // A no-op workflow's pace (~100k events/s), encoded as the kernel encodes it; a task fails its first try in 7.
      fs.writeFileSync(
        child,
        `const { StoreWriter } = await import(${url("writer.ts")});
         const { EventLog } = await import(${url("event-log.ts")});
         const w = new StoreWriter({ sqlite: process.argv[2] });
         await w.ready();
         const log = new EventLog(process.argv[3], 60_000, (b) => w.postEncoded(b));
         for (let t = 0; ; ) {
           for (let i = 0; i < 500; i++, t++) {
             log.task(t, "noop", t, false);
             log.status(t, 0, "launched", t, "htex");
             if (t % 7 === 0) {
               log.try(t, 0, "htex", t, t + 1, false, "w", t);
               log.other({ t: "try+", task: t, try: 0, error: { name: "Boom", message: "try " + t } });
               log.status(t, 1, "pending", t + 1, "htex");
               log.status(t, 1, "launched", t + 1, "htex");
               log.try(t, 1, "htex", t + 1, t + 2, true, "w", t + 1, "exec_done");
             } else log.try(t, 0, "htex", t, t + 1, true, "w", t, "exec_done");
           }
           log.flush();
           await new Promise((r) => setTimeout(r, 5));
         }`,
      );
      const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
      const { readRecords } = await import("../../lib/monitoring/spool.js");
      /** Streams into `file` until its spool holds `records` whole batches, kills the stream, and returns them. */
      const killWhileSpooling = async (file: string, run: string, records: number) => {
        const proc = spawn(process.execPath, ["--import", tsx, child, file, run], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const exited = new Promise<NodeJS.Signals | null>((r) => proc.once("exit", (_c, sig) => r(sig)));
        const spooledTasks = (): number => {
          if (!fs.existsSync(file)) return 0;
          const db = new Database(file, { readonly: true });
          try {
            const rows = db.prepare("SELECT file, done_bytes FROM spool").all() as {
              file: string;
              done_bytes: number;
            }[];
            return rows
              .flatMap((r) => readRecords(path.join(dir, r.file), r.done_bytes, Infinity))
              .reduce((n, x) => n + x.batch.taskRows, 0);
          } catch {
            return 0; // the schema is not there yet
          } finally {
            db.close();
          }
        };
        const ok = await until(() => spooledTasks() >= records * 500, 20_000);
        proc.kill("SIGKILL");
        expect(await exited, stderr).to.equal("SIGKILL");
        expect(ok, "the stream reached the spool").to.equal(true);
        const db = new Database(file, { readonly: true });
        const stored = (db.prepare("SELECT count(*) AS n FROM task WHERE run_id = ?").get(run) as Row).n as number;
        db.close();
        return { stored, spooled: spooledTasks() };
      };
      /** The run's tables hold exactly tasks 0..n-1, each with all its rows, and no spool is left. */
      const expectWhole = (file: string, run: string, n: number): void => {
        const db = new Database(file, { readonly: true });
        try {
          expect(db.pragma("integrity_check", { simple: true })).to.equal("ok");
          const one = (sql: string): unknown => Object.values(db.prepare(sql).get(run) as Row)[0];
          expect(one("SELECT count(*) FROM task WHERE run_id = ?"), "tasks").to.equal(n);
          expect(one("SELECT max(task_id) FROM task WHERE run_id = ?")).to.equal(n - 1);
          expect(one("SELECT count(*) FROM task WHERE run_id = ? AND task_status_name = 'exec_done'")).to.equal(n);
          const failed = Math.ceil(n / 7);
          expect(one("SELECT count(*) FROM try WHERE run_id = ?"), "tries").to.equal(n + failed);
          expect(one("SELECT count(*) FROM try WHERE run_id = ? AND error_name = 'Boom'")).to.equal(failed);
          expect(one("SELECT sum(task_fail_count) FROM task WHERE run_id = ?")).to.equal(failed);
          // pending, launched, exec_done; and pending, launched again for a retried task
          expect(one("SELECT count(*) FROM status WHERE run_id = ?"), "statuses").to.equal(3 * n + 2 * failed);
          expect(db.prepare("SELECT count(*) AS n FROM spool").get()).to.deep.equal({ n: 0 });
        } finally {
          db.close();
        }
        expect(
          fs.readdirSync(dir).filter((f) => f.includes("-spool-")),
          "spool files left",
        ).to.deep.equal([]);
      };

      // a reader (taskloom trace, explain, monitor) finishes the spool of a workflow that died
      const a = path.join(dir, "a.db");
      const first = await killWhileSpooling(a, "ra", 8);
      expect(first.stored, "tasks in the tables while the stream ran").to.be.at.most(2000);
      const { finishSpool } = await import("../../lib/monitoring/read.js");
      expect(await finishSpool(a)).to.deep.equal([]);
      expectWhole(a, "ra", first.stored + first.spooled);

      // and so does the next writer of the store, before its own batches
      const b = path.join(dir, "b.db");
      const second = await killWhileSpooling(b, "rb", 8);
      const w = new StoreWriter({ sqlite: b });
      await w.ready();
      w.post([{ t: "status", run: "later", task: 0, try: 0, state: "pending", at: 1 }]);
      await w.flush();
      await w.close();
      expectWhole(b, "rb", second.stored + second.spooled);
    });
  });

  describe("a target it cannot open", () => {
    it("rejects ready() with an error naming a path it cannot write", async () => {
      const file = path.join(tmp.dir, "not-a-dir");
      fs.writeFileSync(file, "");
      const target = path.join(file, "monitoring.db");
      const w = new StoreWriter({ sqlite: target });
      const e = (await rejection(w.ready())) as Error;
      expect(e.name).to.equal("ConfigError");
      expect(e.message).to.include(target).and.include("cannot open the monitoring store");
      w.post([{ t: "status", run: "r", task: 0, try: 0, state: "pending", at: 0 }]);
      await rejection(w.flush());
      await w.close().catch(() => undefined);
      const bad = new StoreWriter({ mysql: "x" } as unknown as StoreTarget);
      expect(((await rejection(bad.ready())) as Error).message).to.match(
        /expected \{ sqlite: .* \} or \{ postgres: .* \}/,
      );
    });

    it("rejects ready() with an error naming an unreachable server, without its password", async () => {
      const target = "postgres://someone:s3cret@127.0.0.1:1/monitoring";
      const w = new StoreWriter({ postgres: target });
      const e = (await rejection(w.ready())) as Error;
      expect(e.name).to.equal("ConfigError");
      expect(e.message).to.include("postgres://someone:***@127.0.0.1:1/monitoring").and.include("ECONNREFUSED");
      expect(e.message).not.to.include("s3cret");
      await w.close().catch(() => undefined);
    });
  });

  describe("PostgreSQL", function () {
    let admin: pg.Client;
    let url = "";
    const dbName = `taskloom_${process.pid}_${Date.now().toString(36)}`;

    before(async function () {
      ensureService(this, "postgres", PG_PROBE);
      const base = fs.readFileSync(path.join(PG_STATE, "url"), "utf8").trim();
      admin = pgClient(base);
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
      url = base.replace(/\/[^/]*$/, `/${dbName}`);
    });
    after(async () => {
      if (admin !== undefined) {
        await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
        await admin.end();
      }
      stopService("postgres");
    });

    it("writes every kind of event to its table and keeps each task's final state", async () => {
      await checkEveryKind({ postgres: url }, () => pgQuery(url));
    });

    it("keeps two workflows that share one database apart by run_id", async () => {
      const [a, b] = [new StoreWriter({ postgres: url }), new StoreWriter({ postgres: url })];
      await Promise.all([a.ready(), b.ready()]);
      for (let i = 0; i < 1000; i += 100) {
        a.post(Array.from({ length: 100 }, (_, k) => taskEvents("wf-a", i + k)).flat());
        b.post(Array.from({ length: 50 }, (_, k) => taskEvents("wf-b", i + k)).flat());
      }
      a.post([{ t: "workflow", run: "wf-a", name: "a", runDir: "/a", host: "h", user: "u", began: 1 }]);
      b.post([{ t: "workflow", run: "wf-b", name: "b", runDir: "/b", host: "h", user: "u", began: 2 }]);
      await Promise.all([a.close(), b.close()]);
      const { query, close } = await pgQuery(url);
      try {
        const byRun = await query(
          `SELECT run_id, count(*)::int AS n, sum(CASE WHEN task_status_name = 'exec_done' THEN 1 ELSE 0 END)::int AS done
           FROM task WHERE run_id IN ('wf-a', 'wf-b') GROUP BY run_id ORDER BY run_id`,
        );
        expect(byRun).to.deep.equal([
          { run_id: "wf-a", n: 1000, done: 1000 },
          { run_id: "wf-b", n: 500, done: 500 },
        ]);
        expect(await query(`SELECT count(*)::int AS n FROM status WHERE run_id = ?`, "wf-b")).to.deep.equal([
          { n: 2000 },
        ]);
        expect(
          await query(`SELECT workflow_name FROM workflow WHERE run_id IN ('wf-a', 'wf-b') ORDER BY 1`),
        ).to.deep.equal([{ workflow_name: "a" }, { workflow_name: "b" }]);
      } finally {
        await close();
      }
    });
  });
});
