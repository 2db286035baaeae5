// The dashboard's queries against real SQLite stores: one written by a real workflow run with monitoring on, and
// hand-built ones for what a small run cannot show (a crashed run, a timeline too big to send whole, sampling).
import { expect } from "chai";
import * as path from "node:path";
import Database from "better-sqlite3";
import { load, ThreadPoolExecutor } from "taskloom";
import { SCHEMA } from "../../lib/monitoring/schema.js";
import { openStore, resolveRun, type StoreDb } from "../../lib/monitoring/read.js";
import {
  blockHistory,
  dagSlice,
  hasRun,
  resourcePoints,
  runOverview,
  runSummaries,
  taskDetail,
  taskPage,
  timeline,
} from "../../lib/dashboard/queries.js";
import { fairShares } from "../../lib/dashboard/query-timeline.js";
import { rejection, tmpDir } from "../helpers/tmp.js";
import { boom, double, flaky } from "../fixtures/monitoring-apps.js";

const bars = (t: ReturnType<typeof timeline>) => t.workers.flatMap((w) => w.bars);

describe("dashboard queries on a real run", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let db: StoreDb;
  let runId: string;
  // task ids, as the run made them
  const ids = { chain: [] as number[], flaky: -1, boom: -1, depFail: -1 };

  before(async () => {
    const k = await load({
      executors: [new ThreadPoolExecutor({ maxThreads: 2 })],
      runDir: path.join(tmp.dir, "runs"),
      retries: 1,
      monitoring: { resources: true, workflowName: "queries-test" },
      initializeLogging: false,
    });
    // a chain of 5 (each waits for the one before), 20 independent tasks, a retried one, a failure and its dependent
    try {
      let prev = double(1);
      ids.chain.push(prev.taskId);
      for (let i = 0; i < 4; i++) {
        prev = double(prev);
        ids.chain.push(prev.taskId);
      }
      const many = Array.from({ length: 20 }, (_, i) => double(i));
      const f = flaky(path.join(tmp.dir, "count"), 1);
      const x = boom();
      const dep = double(x);
      Object.assign(ids, { flaky: f.taskId, boom: x.taskId, depFail: dep.taskId });
      expect(await prev).to.equal(32);
      await Promise.all(many);
      expect(await f).to.equal("ok");
      await rejection(x);
      await rejection(dep);
    } finally {
      await k.cleanup();
    }
    const store = path.join(k.runDir, "monitoring.db");
    db = openStore(store);
    runId = runSummaries(db)[0]!.runId;
  });
  after(() => {
    db?.close();
    tmp.remove();
  });

  it("lists the run with its tasks counted by final state", () => {
    const runs = runSummaries(db);
    expect(runs).to.have.length(1);
    expect(runs[0]).to.include({ name: "queries-test" });
    expect(runs[0]!.completed).to.be.a("number");
    expect(runs[0]!.states).to.deep.equal({ exec_done: 26, failed: 1, dep_fail: 1 });
    expect(hasRun(db, runId)).to.equal(true);
    expect(hasRun(db, "no-such-run")).to.equal(false);
  });

  it("gives an overview: apps by state with mean try times, executors, the tries' span and workers", () => {
    const o = runOverview(db, runId)!;
    expect(o.runDir).to.contain("runs");
    const byApp = Object.fromEntries(o.apps.map((a) => [a.app, a]));
    expect(byApp.double!.tasks).to.equal(26);
    expect(byApp.double!.states).to.deep.equal({ exec_done: 25, dep_fail: 1 });
    expect(byApp.boom!.states).to.deep.equal({ failed: 1 });
    expect(byApp.double!.meanMs).to.be.a("number").and.at.least(0);
    expect(o.apps[0]!.app).to.equal("double"); // most tasks first
    expect(o.executors).to.have.length(1);
    expect(o.firstLaunch).to.be.a("number");
    expect(o.lastReturn).to.be.at.least(o.firstLaunch!);
    expect(o.workers).to.be.at.least(1);
    expect(runOverview(db, "no-such-run")).to.equal(undefined);
  });

  it("pages through every task in id order, next=null on the last page, with the total", () => {
    const seen: number[] = [];
    let page = taskPage(db, runId, { limit: 7 });
    for (;;) {
      expect(page.total).to.equal(28);
      expect(page.tasks.length).to.be.at.most(7);
      seen.push(...page.tasks.map((t) => t.taskId));
      if (page.next === null) break;
      expect(page.next).to.equal(page.tasks.at(-1)!.taskId);
      page = taskPage(db, runId, { limit: 7, after: page.next });
    }
    expect(seen).to.have.length(28);
    expect(seen).to.deep.equal([...seen].sort((a, b) => a - b));
    expect(taskPage(db, runId, { limit: 28 }).next).to.equal(null);
    expect(taskPage(db, runId, {}).tasks).to.have.length(28); // default limit 100
  });

  it("filters the table by state, app or both, and fills each row", () => {
    const failed = taskPage(db, runId, { state: "failed" });
    expect(failed.total).to.equal(1);
    expect(failed.tasks[0]).to.include({ taskId: ids.boom, app: "boom", state: "failed", failCount: 2 }); // retried once
    expect(failed.tasks[0]!.lastTryMs).to.be.a("number");
    expect(taskPage(db, runId, { app: "double" }).total).to.equal(26);
    const depFail = taskPage(db, runId, { app: "double", state: "dep_fail" });
    expect(depFail.tasks.map((t) => t.taskId)).to.deep.equal([ids.depFail]);
    expect(depFail.tasks[0]!.lastTryMs).to.equal(null); // never ran
    const retried = taskPage(db, runId, { app: "flaky" }).tasks[0]!;
    expect(retried).to.include({ state: "exec_done", failCount: 1 });
    expect(taskPage(db, runId, { state: "running" })).to.deep.equal({ tasks: [], total: 0, next: null });
  });

  it("details a task: dependencies, dependents, tries with the remote error and measurements, states", () => {
    const mid = taskDetail(db, runId, ids.chain[2]!)!;
    expect(mid.depends).to.deep.equal([{ taskId: ids.chain[1], app: "double", state: "exec_done" }]);
    expect(mid.dependents).to.deep.equal([{ taskId: ids.chain[3], app: "double", state: "exec_done" }]);
    expect(mid.tries).to.have.length(1);
    expect(mid.tries[0]!.ok).to.equal(true);
    expect(mid.tries[0]!.measured).to.not.equal(null);
    expect(mid.statuses.map((s) => s.state).at(-1)).to.equal("exec_done");
    expect(mid.statuses.map((s) => s.at)).to.deep.equal([...mid.statuses.map((s) => s.at)].sort((a, b) => a - b));

    const failed = taskDetail(db, runId, ids.boom)!;
    expect(failed.dependents).to.deep.equal([{ taskId: ids.depFail, app: "double", state: "dep_fail" }]);
    const last = failed.tries.at(-1)!;
    expect(last).to.include({ ok: false, errorName: "TypeError", errorMessage: "boom on purpose" });
    expect(last.errorStack).to.contain("boom on purpose");

    const retried = taskDetail(db, runId, ids.flaky)!;
    expect(retried.tries.map((t) => [t.tryId, t.ok])).to.deep.equal([
      [0, false],
      [1, true],
    ]);
    expect(retried.tries[0]!.errorName).to.equal("RangeError");
    expect(taskDetail(db, runId, 99_999)).to.equal(undefined);
  });

  it("slices the DAG, keeping only the edges inside the slice", () => {
    const all = dagSlice(db, runId);
    expect(all.nodes).to.have.length(28);
    expect(all.maxTaskId).to.equal(ids.depFail); // the last task the run made
    expect(all.minTaskId).to.equal(ids.chain[0]);
    const chainEdges = ids.chain.slice(1).map((id, i) => [ids.chain[i], id]);
    expect(all.edges).to.deep.include.members([...chainEdges, [ids.boom, ids.depFail]]);
    const part = dagSlice(db, runId, ids.chain[1], ids.chain[3]);
    expect(part.nodes.map((n) => n.taskId)).to.deep.equal(ids.chain.slice(1, 4));
    // chain[0] → chain[1] starts outside the slice: left out
    expect(part.edges).to.deep.equal(chainEdges.slice(1, 3));
  });

  it("draws every try on the whole-run timeline, and only overlapping ones when zoomed", () => {
    const whole = timeline(db, runId);
    const tries = db
      .prepare(`SELECT min(task_try_time_launched) AS lo, max(task_try_time_returned) AS hi FROM try WHERE run_id = ?`)
      .get(runId) as { lo: number; hi: number };
    expect(whole).to.include({ from: tries.lo, to: tries.hi, truncated: false });
    expect(bars(whole)).to.have.length(29); // 28 tasks; flaky and boom tried twice; boom's dependent never ran
    for (const w of whole.workers) {
      expect(w.bars.map((b) => b[2])).to.deep.equal([...w.bars.map((b) => b[2])].sort((a, b) => a - b));
    }
    expect(bars(whole).filter((b) => b[4] === 0)).to.have.length(3); // boom's two tries and flaky's first
    const first = [...bars(whole)].sort((a, b) => a[3] - b[3])[0]!;
    const early = timeline(db, runId, first[2], first[3]);
    const overlapping = bars(whole).filter((b) => b[2] <= first[3] && b[3] >= first[2]);
    expect(overlapping.length).to.be.below(29);
    expect(bars(early)).to.have.deep.members(overlapping);
  });

  it("gives every measured try to the resource plot, and lists the apps", () => {
    const r = resourcePoints(db, runId);
    expect(r.total).to.equal(29);
    expect(r.points).to.have.length(29);
    expect(r.apps).to.have.members(["double", "flaky", "boom"]);
    const d = resourcePoints(db, runId, "flaky");
    expect(d.total).to.equal(2);
    expect(d.points.map((p) => p[1])).to.deep.equal([0, 1]);
    for (const p of r.points) expect(p[3]).to.be.greaterThan(0); // peak RSS
  });

  it("has no blocks or nodes for a thread pool", () => {
    expect(blockHistory(db, runId)).to.deep.equal({ blocks: [], nodes: [] });
  });
});

describe("dashboard queries on hand-built stores", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  const file = path.join(tmp.dir, "monitoring.db");
  const T = Date.UTC(2025, 0, 1);
  let db: StoreDb;

  before(() => {
    const w = new Database(file);
    for (const s of SCHEMA) w.exec(s);
    const task = w.prepare(`INSERT INTO task VALUES (?, ?, ?, ?, 'htex', 0, NULL, ?, ?, 0, ?)`);
    const attempt = w.prepare(`INSERT INTO try VALUES (?, ?, ?, 'htex', 'h', '0', ?, ?, NULL, ?, 1, NULL, NULL, NULL)`);
    const queued = w.prepare(
      `INSERT INTO try VALUES ('queued', ?, ?, 'htex', 'h', '0', 'w0', ?, ?, ?, ?, NULL, NULL, NULL)`,
    );
    const resource = w.prepare(`INSERT INTO resource VALUES (?, ?, 0, ?, 1, ?, 1, 1, 10, NULL)`);
    w.transaction(() => {
      w.prepare(`INSERT INTO workflow VALUES ('big', 'big.ts', '/r/000', 'h', 'u', ?, ?, 0, 0)`).run(T, T + 1e6);
      // "big": 25,000 tasks of 10 ms on 4 workers, back to back, one 50 s try, all measured
      for (let i = 0; i < 25_000; i++) {
        const deps = i === 0 ? [] : i === 30 ? [11, 21] : i % 200 === 0 ? [1, i - 1] : [i - 1];
        const app = i < 600 ? "sampled" : "rest";
        task.run("big", i, app, JSON.stringify(deps), T + i * 3, T + i * 3 + 20, "exec_done");
        const launched = T + Math.floor(i / 4) * 10;
        attempt.run("big", i, 0, `w${i % 4}`, launched, launched + (i === 100 ? 50_000 : 10));
        resource.run("big", i, launched + 10, 1000 + i);
      }
      // "crashed": tasks, but its workflow row never made it
      for (let i = 0; i < 3; i++) task.run("crashed", i, "a", "[]", T + 5e6 + i, null, "running");
      // "queued": tries that waited for a worker (launched → running), one long one that returns last though
      // launched first, and one from before the running time was recorded
      w.prepare(`INSERT INTO workflow VALUES ('queued', 'q.ts', '/r/001', 'h', 'u', ?, NULL, 0, 0)`).run(T);
      task.run("queued", 0, "slow", "[]", T, T + 10_000, "exec_done");
      task.run("queued", 1, "retried", "[]", T, T + 400, "exec_done");
      queued.run(0, 0, T, T + 5, T + 10_000, 1);
      queued.run(1, 0, T + 10, T + 100, T + 150, 0);
      queued.run(1, 1, T + 200, null, T + 300, 1);
      // "mixed": two apps over four states, for the task table's state+app filter
      for (const [i, app, state] of mixedTasks()) task.run("mixed", i, app, "[]", T + 1e6 + i, null, state);
      const block = w.prepare(`INSERT INTO block VALUES ('big', 'htex', ?, ?, ?, ?)`);
      block.run("1", null, "PENDING", T + 30);
      block.run("0", "9000", "RUNNING", T + 20);
      block.run("0", null, "PENDING", T + 10);
      const node = w.prepare(`INSERT INTO node VALUES ('big', 'htex', 'm0', 'h', '0', 4, 8, 1000, ?, ?)`);
      node.run(0, T + 500);
      node.run(1, T + 25);
    })();
    w.close();
    db = openStore(file);
  });
  after(() => {
    db?.close();
    tmp.remove();
  });

  it("lists a run whose workflow row is missing (a crash before the first flush), newest first", () => {
    const runs = runSummaries(db);
    expect(runs.map((r) => r.runId)).to.deep.equal(["crashed", "mixed", "queued", "big"]);
    expect(runs[0]).to.deep.include({ name: "", completed: null, began: T + 5e6, states: { running: 3 } });
    expect(runOverview(db, "crashed")).to.deep.include({ runDir: "", firstLaunch: null, workers: 0 });
    expect(taskPage(db, "crashed", {}).total).to.equal(3);
  });

  it("estimates an app's mean try time from a sample when it has many tasks", () => {
    const apps = runOverview(db, "big")!.apps;
    expect(apps.map((a) => [a.app, a.tasks])).to.deep.equal([
      ["rest", 24_400],
      ["sampled", 600],
    ]);
    expect(apps[0]!.meanMs).to.equal(10);
    // 500 of its 600 tasks, every 1.2 ids from 0, task 100's 50 s try among them (over all 600 it would be 93.3)
    expect(apps[1]!.meanMs).to.be.closeTo((499 * 10 + 50_000) / 500, 1e-9);
  });

  it("pages deep into a large run and stops at the end", () => {
    const page = taskPage(db, "big", { after: 24_990, limit: 500 });
    expect(page.tasks.map((t) => t.taskId)).to.deep.equal(Array.from({ length: 9 }, (_, i) => 24_991 + i));
    expect(page).to.include({ total: 25_000, next: null });
    const full = taskPage(db, "big", { after: 24_000, limit: 500 });
    expect(full.tasks).to.have.length(500);
    expect(full.next).to.equal(24_500);
  });

  it("finds dependents by exact id (not 11 for 1), at most 100, however far away", () => {
    const one = taskDetail(db, "big", 1)!;
    expect(one.dependents.map((d) => d.taskId).slice(0, 3)).to.deep.equal([2, 200, 400]);
    expect(one.dependents).to.have.length(100);
    expect(taskDetail(db, "big", 24_999)!.dependents).to.deep.equal([]);
    expect(taskDetail(db, "big", 21)!.dependents.map((d) => d.taskId)).to.deep.equal([22, 30]);
    expect(taskDetail(db, "big", 2)!.dependents.map((d) => d.taskId)).to.deep.equal([3]);
  });

  it("caps the timeline at 20,000 bars spread over the whole window, and says it is truncated", () => {
    const t = timeline(db, "big");
    expect(t.truncated).to.equal(true);
    const all = bars(t);
    expect(all).to.have.length(20_000);
    expect(t.workers.map((w) => w.worker)).to.deep.equal(["w0", "w1", "w2", "w3"]);
    const span = t.to - t.from;
    expect(all.some((b) => b[2] < t.from + span * 0.05)).to.equal(true);
    expect(all.some((b) => b[2] > t.from + span * 0.95)).to.equal(true);
    expect(new Set(all.map((b) => `${b[0]}/${b[1]}`)).size).to.equal(20_000);
  });

  it("includes tries launched before a zoomed window that run into it, and nothing that ended before", () => {
    // task 100 (launched at T + 250) runs 50 s; the others launched then ended by T + 260
    const t = timeline(db, "big", T + 40_000, T + 40_100);
    expect(t.truncated).to.equal(false);
    const all = bars(t);
    expect(all.map((b) => b[0])).to.include(100);
    for (const b of all) expect(b[2] <= T + 40_100 && b[3] >= T + 40_000).to.equal(true);
    // task 100, the 4 that returned just as the window opens, and 11 launches of 4 inside it
    expect(all).to.have.length(1 + 4 + 11 * 4);
  });

  it("samples the resource plot evenly to at most 5,000 points, in task order", () => {
    const r = resourcePoints(db, "big");
    expect(r.total).to.equal(25_000);
    expect(r.points.length).to.be.within(4_900, 5_000);
    const tasks = r.points.map((p) => p[0]);
    expect(tasks).to.deep.equal([...tasks].sort((a, b) => a - b));
    expect(tasks[0]).to.be.below(10);
    expect(tasks.at(-1)).to.be.above(24_990);
    expect(resourcePoints(db, "big", "sampled")).to.deep.include({ total: 600 });
    expect(resourcePoints(db, "big", "sampled").points).to.have.length(600);
  });

  it("returns blocks and nodes in time order", () => {
    const h = blockHistory(db, "big");
    expect(h.blocks.map((b) => [b.block, b.state, b.job])).to.deep.equal([
      ["0", "PENDING", null],
      ["0", "RUNNING", "9000"],
      ["1", "PENDING", null],
    ]);
    expect(h.nodes.map((n) => [n.active, n.at])).to.deep.equal([
      [true, T + 25],
      [false, T + 500],
    ]);
  });

  it("starts a timeline bar when its try started running, and ends the run at its last return", () => {
    const t = timeline(db, "queued");
    expect(t).to.include({ from: T, to: T + 10_000, truncated: false });
    expect(bars(t)).to.deep.equal([
      [0, 0, T + 5, T + 10_000, 1],
      [1, 0, T + 100, T + 150, 0],
      [1, 1, T + 200, T + 300, 1], // no running time recorded: from its launch
    ]);
    expect(runOverview(db, "queued")).to.include({ firstLaunch: T, lastReturn: T + 10_000 });
    // try 1/0 was launched inside this window but only started after it: not drawn
    expect(bars(timeline(db, "queued", T + 5, T + 50))).to.deep.equal([[0, 0, T + 5, T + 10_000, 1]]);
    const d = taskDetail(db, "queued", 1)!;
    expect(d.tries.map((y) => [y.launched, y.running, y.returned])).to.deep.equal([
      [T + 10, T + 100, T + 150],
      [T + 200, null, T + 300],
    ]);
  });

  it("filters by state and app together exactly, however the two sizes compare", () => {
    const all = mixedTasks();
    const states = ["exec_done", "failed", "dep_fail", "pending", "running"];
    for (const app of ["big", "small", "none"]) {
      for (const state of states) {
        const want = all.filter(([, a, s]) => a === app && s === state).map(([i]) => i);
        const page = taskPage(db, "mixed", { app, state, limit: 40 });
        expect([page.total, page.tasks.map((t) => t.taskId)], `${app} ${state}`).to.deep.equal([
          want.length,
          want.slice(0, 40),
        ]);
        const after = taskPage(db, "mixed", { app, state, limit: 40, after: 150 });
        expect(after.tasks.map((t) => t.taskId)).to.deep.equal(want.filter((i) => i > 150).slice(0, 40));
      }
    }
    const apps = Object.fromEntries(runOverview(db, "mixed")!.apps.map((a) => [a.app, a.states]));
    for (const app of ["big", "small"]) {
      const want: Record<string, number> = {};
      for (const [, a, s] of all) if (a === app) want[s] = (want[s] ?? 0) + 1;
      expect(apps[app]).to.deep.equal(want);
    }
  });

  it("resolves the newest run, finding runs without a workflow row through their first task", () => {
    expect(resolveRun(db)).to.include({ runId: "crashed", began: T + 5e6, name: "" });
    expect(resolveRun(db, "big")).to.include({ name: "big.ts", began: T });
    expect(() => resolveRun(db, "nope")).to.throw(/no run nope .*it has: .*big.*crashed/);
  });

  it("reads a store written before tries recorded when they started running", () => {
    const dir = tmpDir();
    const old = path.join(dir.dir, "old.db");
    const w = new Database(old);
    for (const s of SCHEMA) w.exec(s.replace(/\n\s*task_try_time_running BIGINT,/, ""));
    w.prepare(`INSERT INTO task VALUES ('r', 0, 'a', '[]', 'htex', 0, NULL, ?, ?, 0, 'exec_done')`).run(T, T + 50);
    w.prepare(`INSERT INTO try VALUES ('r', 0, 0, 'htex', 'h', NULL, 'w', ?, ?, 1, NULL, NULL, NULL)`).run(T, T + 40);
    w.close();
    const r = openStore(old);
    try {
      expect(bars(timeline(r, "r"))).to.deep.equal([[0, 0, T, T + 40, 1]]);
      expect(taskDetail(r, "r", 0)!.tries[0]).to.include({ launched: T, running: null });
    } finally {
      r.close();
      dir.remove();
    }
  });

  it("splits a bar budget fairly: what a quiet slice cannot use goes to the busy ones", () => {
    const shares = fairShares([0, 5, 100, 100], 60);
    expect(shares[0]).to.equal(0);
    expect(shares[1]).to.equal(5);
    expect(shares.reduce((a, b) => a + b)).to.equal(60);
    expect(Math.abs(shares[2]! - shares[3]!)).to.be.at.most(1);
    expect(fairShares([3, 4], 100)).to.deep.equal([3, 4]);
  });
});

/**
 * The "mixed" run: 300 tasks, "big" (ids 0–199) and "small" (200–299); mostly exec_done, every 10th failed, every
 * 50th (from 1) dep_fail, the last 10 pending. `[id, app, state]`.
 */
function mixedTasks(): [number, string, string][] {
  return Array.from({ length: 300 }, (_, i): [number, string, string] => [
    i,
    i < 200 ? "big" : "small",
    i >= 290 ? "pending" : i % 10 === 0 ? "failed" : i % 50 === 1 ? "dep_fail" : "exec_done",
  ]);
}
