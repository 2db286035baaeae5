/* eslint-disable no-control-regex -- the terminal escape codes are what the progress tests check */
import { expect } from "chai";
import { spawn, type SpawnOptions } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import { SCHEMA } from "../../lib/monitoring/schema.js";
import { findStore, openStore, resolveRun } from "../../lib/monitoring/read.js";
import { writeTrace } from "../../lib/cli/trace.js";
import { explainTask } from "../../lib/cli/explain.js";
import {
  formatDuration,
  groupCounts,
  rateAndEta,
  renderProgress,
  renderSummary,
  startProgress,
  type ProgressCounts,
} from "../../lib/cli/progress.js";
import { tmpDir } from "../helpers/tmp.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/lib/cli/main.js");
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

/** Runs a command to its end. */
function run(
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], ...opts });
    const out: Buffer[] = [];
    let err = "";
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out: Buffer.concat(out).toString(), err }));
  });
}

interface TaskSpec {
  id: number;
  app: string;
  state: string;
  depends?: number[];
  resources?: Record<string, number>;
  executor?: string;
  /** Tries, each as the try event would write it. */
  tries?: {
    ok: boolean;
    launched: number;
    returned: number;
    worker?: string;
    host?: string;
    block?: string;
    executor?: string;
    error?: [string, string, string?];
    /** A `resource` row: peak RSS KiB, CPU ms, wall ms. */
    measured?: [number, number, number];
  }[];
  at?: number;
}

/** A store built from the pinned schema, with rows as the monitor writes them for these events. */
function buildStore(
  file: string,
  run: string,
  tasks: TaskSpec[],
  nodes: { manager: string; cores: number; memoryMB: number; active: boolean; executor?: string }[] = [],
): void {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  for (const s of SCHEMA) db.exec(s);
  db.prepare(
    `INSERT INTO workflow VALUES (?, 'cli-test', '/tmp/runinfo/000', 'testhost', 'tester', ?, NULL, NULL, NULL)`,
  ).run(run, T0);
  const task = db.prepare(`INSERT INTO task VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`);
  const status = db.prepare(`INSERT INTO status VALUES (?, ?, ?, ?, ?)`);
  const tryRow = db.prepare(`INSERT INTO try VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`);
  const resource = db.prepare(`INSERT INTO resource VALUES (?, ?, ?, ?, 4242, ?, ?, 0, ?, NULL)`);
  const node = db.prepare(`INSERT INTO node VALUES (?, ?, ?, ?, '0', 4, ?, ?, ?, ?)`);
  db.transaction(() => {
    for (const t of tasks) {
      const invoked = T0 + t.id;
      const tries = t.tries ?? [];
      const final = ["exec_done", "memo_done", "failed", "dep_fail", "cancelled"].includes(t.state);
      const at = t.at ?? (tries.length > 0 ? tries[tries.length - 1]!.returned : invoked + 5);
      task.run(
        run,
        t.id,
        t.app,
        JSON.stringify(t.depends ?? []),
        t.executor ?? "threads",
        t.resources ? JSON.stringify(t.resources) : null,
        invoked,
        final ? at : null,
        tries.filter((y) => !y.ok).length,
        t.state,
      );
      status.run(run, t.id, 0, "pending", invoked);
      tries.forEach((y, i) => {
        status.run(run, t.id, i, "launched", y.launched);
        tryRow.run(
          run,
          t.id,
          i,
          y.executor ?? t.executor ?? "threads",
          y.host ?? null,
          y.block ?? null,
          y.worker ?? null,
          y.launched,
          y.returned,
          y.ok ? 1 : 0,
          y.error?.[0] ?? null,
          y.error?.[1] ?? null,
          y.error?.[2] ?? null,
        );
        if (y.measured) resource.run(run, t.id, i, y.returned, ...y.measured);
      });
      if (t.state !== "pending") status.run(run, t.id, Math.max(0, tries.length - 1), t.state, at);
    }
    for (const n of nodes) {
      node.run(run, n.executor ?? "htex", n.manager, `host-${n.manager}`, n.cores, n.memoryMB, 1, T0);
      if (!n.active)
        node.run(run, n.executor ?? "htex", n.manager, `host-${n.manager}`, n.cores, n.memoryMB, 0, T0 + 1);
    }
  })();
  db.close();
}

/** Collects what is written, honouring backpressure like a pipe would. */
function sink(): Writable & { text: () => string; writes: number } {
  const parts: string[] = [];
  const w = new Writable({
    highWaterMark: 1 << 14,
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk.toString());
      setImmediate(cb);
    },
  }) as Writable & { text: () => string; writes: number };
  w.text = () => parts.join("");
  Object.defineProperty(w, "writes", { get: () => parts.length });
  return w;
}

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cname?: string;
  args: Record<string, unknown>;
}

describe("taskloom run progress display", () => {
  const c = (done: number, failed: number, running: number, pending: number): ProgressCounts => ({
    done,
    failed,
    running,
    pending,
  });

  it("groups the kernel's states into done, failed, running and pending", () => {
    expect(
      groupCounts({
        unsched: 1,
        pending: 2,
        launched: 3,
        running: 4,
        joining: 5,
        exec_done: 6,
        memo_done: 7,
        failed: 8,
        dep_fail: 9,
        cancelled: 10,
      }),
    ).to.deep.equal({ done: 13, failed: 27, running: 12, pending: 3 });
  });

  it("draws the bar and every segment when the terminal is wide", () => {
    const line = renderProgress(c(512, 3, 8, 477), 423_000, { columns: 120 });
    expect(line).to.match(/^\[=+> *\] 512\/1,000 done · 3 failed · 8 running · 477 pending · 1\.2 tasks\/s · ETA /);
    // 515 of 1000 finished: the bar is half full
    const bar = /^\[([^\]]*)\]/.exec(line)![1]!;
    expect(bar.length).to.equal(30);
    expect(bar.indexOf(">")).to.equal(15);
  });

  it("never reaches the last column, dropping segments from the right as the terminal narrows", () => {
    const counts = c(123_456, 7_890, 1_024, 987_654);
    for (let columns = 10; columns <= 220; columns++) {
      const line = renderProgress(counts, 3_600_000, { columns });
      expect(line.length, `columns ${columns}: ${line}`).to.be.at.most(columns - 1);
    }
    expect(renderProgress(counts, 3_600_000, { columns: 60 })).to.match(
      /^\[[=> ]+\] 123,456\/1,120,024 done · 7,890 failed$/,
    );
    expect(renderProgress(counts, 3_600_000, { columns: 150 })).to.contain("ETA ");
    expect(renderProgress(counts, 3_600_000, { columns: 30 })).to.equal("123,456/1,120,024 done");
  });

  it("computes the rate from finished tasks and the ETA from what is left", () => {
    expect(rateAndEta(c(400, 100, 200, 300), 10_000)).to.deep.equal({ rate: 50, etaMs: 10_000 });
    expect(renderProgress(c(400, 100, 200, 300), 10_000, { columns: 200 })).to.match(/50 tasks\/s · ETA 0:10$/);
    expect(renderProgress(c(1, 0, 0, 7199), 1000, { columns: 200 })).to.match(/1\.0 tasks\/s · ETA 1:59:59$/);
    expect(renderProgress(c(0, 0, 4, 10), 5000, { columns: 200 })).to.match(/0\.0 tasks\/s · ETA --:--$/);
    expect(renderProgress(c(10, 0, 0, 0), 5000, { columns: 200 })).to.match(/ETA 0:00$/);
    expect(renderProgress(c(0, 0, 0, 0), 0, { columns: 80 })).to.match(/^\[ +\] 0\/0 done/);
    expect(formatDuration(59_499)).to.equal("0:59");
    expect(formatDuration(61_000)).to.equal("1:01");
    expect(formatDuration(3_600_000 + 65_000)).to.equal("1:01:05");
  });

  it("writes plain lines without a bar, and a summary", () => {
    expect(renderProgress(c(5, 1, 2, 2), 2000, { bar: false, columns: 200 })).to.equal(
      "5/10 done · 1 failed · 2 running · 2 pending · 3.0 tasks/s · ETA 0:01",
    );
    expect(renderSummary(c(997, 3, 0, 0), 4200)).to.equal(
      "taskloom: 1,000 tasks in 0:04 · 997 done · 3 failed · 238 tasks/s",
    );
    expect(renderSummary(c(5, 0, 1, 2), 1000)).to.contain("3 unfinished");
  });

  it("redraws in place on a terminal, clears the bar before other output, and ends with a summary", async () => {
    const out = sink() as ReturnType<typeof sink> & { columns: number; isTTY: boolean };
    out.columns = 100;
    out.isTTY = true;
    let counts: Record<string, number> | undefined;
    let now = 0;
    const p = startProgress({ source: () => counts, stream: out, tty: true, pollMs: 5, now: () => now });
    await new Promise((r) => setTimeout(r, 30));
    expect(out.text()).to.equal(""); // nothing before a kernel is loaded
    counts = { pending: 10 };
    await new Promise((r) => setTimeout(r, 30));
    now = 2000;
    counts = { exec_done: 4, running: 2, pending: 4 };
    await new Promise((r) => setTimeout(r, 30));
    out.write("script output\n");
    await new Promise((r) => setTimeout(r, 30));
    counts = { exec_done: 9, failed: 1 };
    now = 4000;
    p.stop();
    await new Promise((r) => out.end(r));
    const text = out.text();
    expect(text).to.contain("\r\x1b[K[");
    expect(text).to.contain("4/10 done · 0 failed · 2 running · 4 pending · 2.0 tasks/s · ETA 0:03");
    expect(text).not.to.contain("\n[");
    // the bar was cleared before the script's line, which starts at column 0
    expect(text).to.match(/\r\x1b\[Kscript output\n\r\x1b\[K\[/);
    expect(text.endsWith("\r\x1b[Ktaskloom: 10 tasks in 0:04 · 9 done · 1 failed · 2.5 tasks/s\n")).to.equal(true);
    // the guard is removed with the display
    expect(Object.hasOwn(out, "write")).to.equal(false);
  });

  it("prints a plain line per period when not a terminal, and the summary at the end", async () => {
    const out = sink();
    let now = 0;
    const counts = { exec_done: 1, pending: 3 };
    const p = startProgress({
      source: () => counts,
      stream: out,
      tty: false,
      pollMs: 5,
      plainEveryMs: 1000,
      now: () => now,
    });
    await new Promise((r) => setTimeout(r, 30));
    now = 1500;
    await new Promise((r) => setTimeout(r, 30));
    p.stop();
    await new Promise((r) => out.end(r));
    const lines = out.text().split("\n").filter(Boolean);
    expect(lines).to.deep.equal([
      "taskloom: 1/4 done · 0 failed · 0 running · 3 pending · 0.7 tasks/s · ETA 0:05 (0:02 elapsed)",
      "taskloom: 4 tasks in 0:02 · 1 done · 0 failed · 3 unfinished · 0.7 tasks/s",
    ]);
    expect(out.text()).not.to.contain("\x1b");
  });
});

describe("taskloom trace", function () {
  this.timeout(120_000);
  const tmp = tmpDir("taskloom-cli-trace-");
  after(() => tmp.remove());

  const traceTasks: TaskSpec[] = [
    {
      id: 1,
      app: "prepare",
      state: "exec_done",
      executor: "htex",
      tries: [
        {
          ok: true,
          launched: T0 + 10,
          returned: T0 + 60,
          worker: "h1:100",
          host: "h1",
          block: "0",
          measured: [2048, 30, 45],
        },
      ],
    },
    {
      id: 2,
      app: "simulate",
      state: "exec_done",
      executor: "htex",
      tries: [{ ok: true, launched: T0 + 20, returned: T0 + 120, worker: "h1:101", host: "h1", block: "0" }],
    },
    {
      id: 3,
      app: "simulate",
      state: "failed",
      executor: "htex",
      tries: [
        { ok: false, launched: T0 + 70, returned: T0 + 90, worker: "h1:100", error: ["RangeError", "too far"] },
        { ok: false, launched: T0 + 130, returned: T0 + 150, worker: "h1:101", error: ["RangeError", "too far"] },
      ],
    },
    // no worker known: one track for the executor, a second lane where its tries overlap
    { id: 4, app: "local", state: "exec_done", tries: [{ ok: true, launched: T0 + 5, returned: T0 + 50 }] },
    { id: 5, app: "local", state: "exec_done", tries: [{ ok: true, launched: T0 + 6, returned: T0 + 40 }] },
    { id: 6, app: "local", state: "exec_done", tries: [{ ok: true, launched: T0 + 55, returned: T0 + 56 }] },
  ];

  it("writes one track per worker, a slice per try with its app, outcome and duration", async () => {
    const file = path.join(tmp.dir, "trace.db");
    buildStore(file, "run-a", traceTasks);
    const db = openStore(file);
    const out = sink();
    const n = await writeTrace(db, resolveRun(db), out);
    db.close();
    await new Promise((r) => out.end(r));
    expect(n).to.equal(7);
    const trace = JSON.parse(out.text()) as { traceEvents: TraceEvent[]; otherData: Record<string, unknown> };
    expect(trace.otherData.run_id).to.equal("run-a");
    const ev = trace.traceEvents;
    const procs = new Map(ev.filter((e) => e.name === "process_name").map((e) => [e.pid, e.args.name]));
    expect([...procs.values()].sort()).to.deep.equal(["executor htex", "executor threads"]);
    const threads = ev.filter((e) => e.name === "thread_name");
    const trackName = new Map(threads.map((e) => [`${e.pid}/${e.tid}`, e.args.name as string]));
    expect([...trackName.values()].sort()).to.deep.equal(["h1:100", "h1:101", "threads", "threads (2)"]);
    const slices = ev.filter((e) => e.ph === "X");
    expect(slices).to.have.length(7);
    for (const s of slices) {
      const spec = traceTasks.find((t) => t.id === s.args.task)!;
      const y = spec.tries![s.args.try as number]!;
      expect(s.name).to.equal(spec.app);
      expect(s.ts).to.equal((y.launched - T0) * 1000);
      expect(s.dur).to.equal((y.returned - y.launched) * 1000);
      expect(s.args.ok).to.equal(y.ok);
      if (y.worker !== undefined) expect(trackName.get(`${s.pid}/${s.tid}`)).to.equal(y.worker);
    }
    expect(slices.find((s) => s.args.task === 1)!.args).to.include({ peak_rss_kib: 2048, cpu_ms: 30, wall_ms: 45 });
    const failed = slices.filter((s) => s.args.ok === false);
    expect(failed).to.have.length(2);
    for (const f of failed) {
      expect(f.cname).to.equal("terrible");
      expect(f.args.error).to.equal("RangeError: too far");
    }
    // slices on one track never overlap, so viewers draw them side by side
    const byTrack = new Map<string, TraceEvent[]>();
    for (const s of slices) byTrack.set(`${s.pid}/${s.tid}`, [...(byTrack.get(`${s.pid}/${s.tid}`) ?? []), s]);
    for (const list of byTrack.values()) {
      list.sort((a, b) => a.ts! - b.ts!);
      for (let i = 1; i < list.length; i++) expect(list[i]!.ts).to.be.at.least(list[i - 1]!.ts! + list[i - 1]!.dur!);
    }
  });

  it("streams valid JSON for 100,000 tries from the newest run directory's store", async () => {
    const cwd = path.join(tmp.dir, "big");
    fs.mkdirSync(path.join(cwd, "runinfo/000"), { recursive: true });
    fs.mkdirSync(path.join(cwd, "runinfo/001"), { recursive: true });
    buildStore(path.join(cwd, "runinfo/000/monitoring.db"), "old-run", traceTasks);
    const N = 100_000;
    const tasks: TaskSpec[] = [];
    for (let i = 1; i <= N; i++) {
      const w = i % 16;
      const launched = T0 + Math.floor(i / 16) * 3;
      tasks.push({
        id: i,
        app: i % 2 === 0 ? "even" : "odd",
        state: i % 1000 === 0 ? "failed" : "exec_done",
        executor: "htex",
        tries: [
          {
            ok: i % 1000 !== 0,
            launched,
            returned: launched + 2,
            worker: `node${w % 4}:${w}`,
            ...(i % 1000 === 0 ? { error: ["Error", `bad ${i}`] as [string, string] } : {}),
          },
        ],
      });
    }
    buildStore(path.join(cwd, "runinfo/001/monitoring.db"), "big-run", tasks);
    const t = Date.now();
    const r = await run(process.execPath, [CLI, "trace"], { cwd });
    const ms = Date.now() - t;
    expect(r.err).to.equal("");
    expect(r.code).to.equal(0);
    const trace = JSON.parse(r.out) as { traceEvents: TraceEvent[]; otherData: Record<string, unknown> };
    expect(trace.otherData.run_id).to.equal("big-run");
    const slices = trace.traceEvents.filter((e) => e.ph === "X");
    expect(slices).to.have.length(N);
    expect(slices.filter((s) => s.cname === "terrible")).to.have.length(N / 1000);
    expect(slices.every((s) => s.dur === 2000)).to.equal(true);
    expect(trace.traceEvents.filter((e) => e.name === "thread_name")).to.have.length(16);
    console.log(`      trace of ${N} tries: ${ms} ms, ${(r.out.length / 1e6).toFixed(1)} MB`);
    // an older run of the same store directory, by --run on the file
    const old = await run(process.execPath, [CLI, "trace", "runinfo/000/monitoring.db", "--run", "old-run"], { cwd });
    expect(old.code).to.equal(0);
    expect(
      (JSON.parse(old.out) as { traceEvents: TraceEvent[] }).traceEvents.filter((e) => e.ph === "X"),
    ).to.have.length(7);
  });

  it("says what is wrong with its command line or store", async () => {
    const empty = path.join(tmp.dir, "empty");
    fs.mkdirSync(empty);
    const none = await run(process.execPath, [CLI, "trace"], { cwd: empty });
    expect(none.code).to.equal(1);
    expect(none.err).to.contain("no monitoring store").and.contain("monitoring: true");
    const bad = await run(process.execPath, [CLI, "trace", "--frob"], { cwd: empty });
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain("unknown option --frob").and.contain("usage: taskloom trace");
    const notDb = path.join(empty, "notes.txt");
    fs.writeFileSync(notDb, "hello");
    const wrong = await run(process.execPath, [CLI, "trace", notDb]);
    expect(wrong.code).to.equal(1);
    expect(wrong.err).to.contain("is not a taskloom monitoring store");
    const file = path.join(tmp.dir, "trace.db");
    const noRun = await run(process.execPath, [CLI, "trace", file, "--run", "nope"]);
    expect(noRun.code).to.equal(1);
    expect(noRun.err).to.contain("no run nope").and.contain("run-a");
  });
});

describe("taskloom explain", function () {
  this.timeout(60_000);
  const tmp = tmpDir("taskloom-cli-explain-");
  after(() => (process.env.KEEP ? console.log(tmp.dir) : tmp.remove()));
  const file = path.join(tmp.dir, "explain.db");
  const stack =
    "Error: disk full\n    at write (/work/flow/apps.ts:12:9)\n    at run (/work/flow/apps.ts:30:3)\n" +
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)";

  before(() =>
    buildStore(
      file,
      "run-x",
      [
        { id: 1, app: "fetch", state: "launched", executor: "htex", resources: { memory: 64000, cores: 2 } },
        { id: 2, app: "prepare", state: "pending", depends: [1], executor: "htex" },
        {
          id: 3,
          app: "load",
          state: "exec_done",
          tries: [{ ok: true, launched: T0 + 3, returned: T0 + 40, worker: "h2:7" }],
        },
        { id: 4, app: "combine", state: "pending", depends: [2, 3] },
        {
          id: 5,
          app: "flaky",
          state: "failed",
          executor: "htex",
          tries: [
            {
              ok: false,
              launched: T0 + 10,
              returned: T0 + 20,
              host: "h1",
              worker: "h1:100",
              block: "0",
              error: ["OSError", "disk full", stack],
            },
            {
              ok: false,
              launched: T0 + 30,
              returned: T0 + 45,
              host: "h2",
              worker: "h2:7",
              block: "1",
              error: ["OSError", "disk full", stack],
            },
          ],
        },
        { id: 6, app: "report", state: "dep_fail", depends: [3, 7, 5], at: T0 + 200 },
        {
          id: 7,
          app: "other",
          state: "failed",
          tries: [{ ok: false, launched: T0 + 50, returned: T0 + 150, error: ["Error", "late"] }],
        },
        { id: 8, app: "publish", state: "dep_fail", depends: [6], at: T0 + 201 },
        { id: 9, app: "wide", state: "launched", executor: "htex", resources: { cores: 12, memory: 12000 } },
        { id: 10, app: "fits", state: "launched", executor: "htex", resources: { cores: 8, memory: 9000 } },
      ],
      [
        { manager: "m1", cores: 8, memoryMB: 15000, active: true },
        { manager: "m2", cores: 16, memoryMB: 8000, active: true },
        { manager: "m3", cores: 64, memoryMB: 256000, active: false },
      ],
    ),
  );

  const explain = (id: number) => {
    const db = openStore(file);
    try {
      return explainTask(db, resolveRun(db), id)?.join("\n");
    } finally {
      db.close();
    }
  };

  it("follows a pending task's unfinished dependencies to the first blocker and its unmet resources", () => {
    const text = explain(4)!;
    const lines = text.split("\n");
    expect(lines[0]).to.match(
      /^task 4 \(combine\): pending since 2025-01-01 12:00:00\.004 UTC \(4 ms into the run\), run run-x$/,
    );
    expect(text).to.contain("waits for 1 of 2 dependencies:");
    expect(text).not.to.contain("task 3 (load)");
    const i2 = lines.findIndex((l) => l.trim().startsWith("task 2 (prepare): pending"));
    const i1 = lines.findIndex((l) => l.trim().startsWith("task 1 (fetch): launched"));
    expect(i2).to.be.greaterThan(0);
    expect(i1).to.be.greaterThan(i2);
    expect(text).to.contain("asks memory 64000 MB; the largest active node offers 15000 MB");
    // the node that left does not count
    expect(text).not.to.contain("256000");
  });

  it("tells resources no single node offers from resources some node offers", () => {
    expect(explain(9)).to.contain("asks cores 12, memory 12000 MB; no single active node offers all of it");
    expect(explain(10)).to.contain("asks cores 8, memory 9000 MB; 1 of 2 active nodes offer it");
  });

  it("shows each failed try's error, remote stack and where it ran, and that retries are exhausted", () => {
    const text = explain(5)!;
    expect(text).to.contain("task 5 (flaky): failed at");
    expect(text).to.contain("retries exhausted: 2 tries failed");
    expect(text).to.contain("try 0 (h1, worker h1:100, executor htex, block 0; 10 ms): OSError: disk full");
    expect(text).to.contain("try 1 (h2, worker h2:7, executor htex, block 1; 15 ms): OSError: disk full");
    expect(text).to.contain("at write (/work/flow/apps.ts:12:9)");
    expect(text).not.to.contain("node:internal");
  });

  it("names the dependency that failed first, down to the task whose own try failed", () => {
    const six = explain(6)!;
    expect(six).to.contain("dependency task 5 (flaky) failed first, failed at");
    expect(six).to.contain("(1 more failed later)");
    expect(six).to.contain("OSError: disk full");
    expect(six).not.to.contain("Error: late");
    const eight = explain(8)!;
    expect(eight).to.contain("dependency task 6 (report) failed first, dep_fail at");
    expect(eight).to.contain("dependency task 5 (flaky) failed first");
  });

  it("exits 0 when it explains, 1 when the task or store is missing, 2 on a bad command line", async () => {
    const ok = await run(process.execPath, [CLI, "explain", "4", file]);
    expect(ok.code).to.equal(0);
    expect(ok.out).to.contain("asks memory 64000 MB");
    const missing = await run(process.execPath, [CLI, "explain", "99", file, "--run=run-x"]);
    expect(missing.code).to.equal(1);
    expect(missing.err).to.contain("task 99 is not in run run-x").and.contain("10 tasks, ids 1–10");
    for (const args of [[], ["abc", file], ["4", file, "extra"], ["4", "--run"]]) {
      const bad = await run(process.execPath, [CLI, "explain", ...args]);
      expect(bad.code, args.join(" ")).to.equal(2);
      expect(bad.err).to.contain("usage: taskloom explain");
    }
    const nostore = await run(process.execPath, [CLI, "explain", "4", path.join(tmp.dir, "nope.db")]);
    expect(nostore.code).to.equal(1);
  });

  it("reads a store a workflow is still writing (uncheckpointed WAL)", async () => {
    const live = path.join(tmp.dir, "live.db");
    buildStore(live, "run-live", [{ id: 1, app: "first", state: "exec_done" }]);
    const writer = new Database(live);
    try {
      writer.pragma("wal_autocheckpoint = 0");
      writer
        .prepare(`INSERT INTO task VALUES ('run-live', 2, 'second', '[1]', 'threads', 0, NULL, ?, NULL, 0, 'running')`)
        .run(T0 + 2);
      expect(fs.statSync(`${live}-wal`).size).to.be.greaterThan(0);
      const r = await run(process.execPath, [CLI, "explain", "2", live]);
      expect(r.code).to.equal(0);
      expect(r.out).to.contain("task 2 (second): running since");
    } finally {
      writer.close();
    }
  });

  it("finds the store of the newest run directory", () => {
    const base = path.join(tmp.dir, "runinfo");
    for (const n of ["000", "001", "002"]) fs.mkdirSync(path.join(base, n), { recursive: true });
    fs.writeFileSync(path.join(base, "000", "monitoring.db"), "");
    fs.writeFileSync(path.join(base, "001", "monitoring.db"), "");
    expect(findStore(undefined, tmp.dir)).to.equal(path.join(base, "001", "monitoring.db"));
    expect(findStore("runinfo/000", tmp.dir)).to.equal(path.join(base, "000", "monitoring.db"));
    expect(() => findStore("runinfo/002", tmp.dir)).to.throw(/no monitoring\.db in .*002/);
  });
});

describe("taskloom run (progress output)", function () {
  this.timeout(120_000);
  const tmp = tmpDir("taskloom-cli-run-");
  after(() => tmp.remove());
  const fixture = "test/fixtures/cli-progress-workflow.ts";

  it("prints a summary on stderr when it is not a terminal, and leaves stdout to the script", async () => {
    const r = await run(process.execPath, [CLI, "run", fixture, path.join(tmp.dir, "a")]);
    expect(r.code).to.equal(0);
    expect(r.out).to.equal("slept 40 times\n");
    expect(r.err).to.match(/^taskloom: 41 tasks in 0:0\d · 40 done · 1 failed · [\d.,]+ tasks\/s\n$/);
  });

  it("still prints the summary when the script calls process.exit()", async () => {
    const r = await run(process.execPath, [CLI, "run", fixture, path.join(tmp.dir, "x"), "exit"]);
    expect(r.code).to.equal(3);
    expect(r.out).to.equal("slept 40 times\n");
    expect(r.err).to.match(/^taskloom: 41 tasks in 0:0\d · 40 done · 1 failed · [\d.,]+ tasks\/s\n$/);
  });

  it("prints nothing with --quiet", async () => {
    const r = await run(process.execPath, [CLI, "run", "--quiet", fixture, path.join(tmp.dir, "b")]);
    expect(r.code).to.equal(0);
    expect(r.out).to.equal("slept 40 times\n");
    expect(r.err).to.equal("");
    const bad = await run(process.execPath, [CLI, "run", "--loud", fixture]);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain("unknown option --loud").and.contain("--quiet");
  });

  it("redraws a bar in place on a terminal and clears it for the summary", async function () {
    if (!fs.existsSync("/usr/bin/script")) this.skip();
    const cmd = [process.execPath, CLI, "run", fixture, path.join(tmp.dir, "c")].map((a) => `'${a}'`).join(" ");
    const r = await run("/usr/bin/script", ["-qfec", cmd, "/dev/null"], { env: { ...process.env, COLUMNS: "100" } });
    expect(r.code).to.equal(0);
    const text = r.out;
    expect(text).to.match(/\r\x1b\[K\[[=> ]+\] \d+\/\d+ done · \d+ failed · \d+ running · \d+ pending/);
    expect(text).to.contain("slept 40 times");
    // the bar is cleared before the summary (or already was, by the script's own output)
    expect(text).to.match(/(\r\x1b\[K|\n)taskloom: 41 tasks in 0:0\d · 40 done · 1 failed · [\d.,]+ tasks\/s\r?\n$/);
  });
});

describe("taskloom trace and explain on a real monitored run", function () {
  this.timeout(120_000);
  const tmp = tmpDir("taskloom-cli-e2e-");
  after(() => tmp.remove());

  it("trace and explain read the store `monitoring: true` wrote during `taskloom run`", async () => {
    const runinfo = path.join(tmp.dir, "runinfo");
    const r = await run(process.execPath, [CLI, "run", "--quiet", "test/fixtures/cli-monitored-workflow.ts", runinfo]);
    expect(r.err).to.equal("");
    expect(r.code).to.equal(0);
    const ids = JSON.parse(r.out) as { sum: number; failed: number; blocked: number; value: number };
    expect(ids.value).to.equal(4);

    const t = await run(process.execPath, [CLI, "trace", runinfo]);
    expect(t.code, t.err).to.equal(0);
    const trace = JSON.parse(t.out) as { traceEvents: TraceEvent[] };
    const slices = trace.traceEvents.filter((e) => e.ph === "X");
    // 7 tasks ran (the blocked one never did); the failing one twice (retries: 1)
    expect(slices).to.have.length(8);
    expect(slices.filter((s) => s.name === "fail" && s.args.ok === false)).to.have.length(2);
    const tracks = trace.traceEvents.filter((e) => e.name === "thread_name").map((e) => e.args.name as string);
    expect(tracks.length).to.be.greaterThan(0);
    for (const s of slices) expect(s.dur).to.be.at.least(0);

    const failed = await run(process.execPath, [CLI, "explain", String(ids.failed), runinfo]);
    expect(failed.code).to.equal(0);
    expect(failed.out).to.match(new RegExp(`^task ${ids.failed} \\(fail\\): failed at `));
    expect(failed.out).to.contain("retries exhausted: 2 tries failed");
    expect(failed.out).to.contain("Error: no such input");
    expect(failed.out).to.contain("test/fixtures/apps.ts");
    const blocked = await run(process.execPath, [CLI, "explain", String(ids.blocked), runinfo]);
    expect(blocked.code).to.equal(0);
    expect(blocked.out).to.contain(`dep_fail at`);
    expect(blocked.out).to.contain(`dependency task ${ids.failed} (fail) failed first`);
    const done = await run(process.execPath, [CLI, "explain", String(ids.sum), runinfo]);
    expect(done.out).to.match(/exec_done at .*\n.*\n {2}try 0 ran on /);
  });
});
