// Monitoring end to end: workflows with `monitoring` on, on both executors, write Parsl's tables to a real SQLite
// file (WAL) that a reader can watch live; a workflow killed with SIGKILL leaves a sound file with what it stored.
import { expect } from "chai";
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import {
  load,
  ConfigError,
  HighThroughputExecutor,
  LocalProvider,
  ThreadPoolExecutor,
  type DataFlowKernel,
  type Executor,
} from "taskloom";
import { rejection, tmpDir, until } from "../helpers/tmp.js";
import { boom, double, flaky, hold } from "../fixtures/monitoring-apps.js";

type Row = Record<string, unknown>;

const EXECUTORS: { name: string; make: () => Executor }[] = [
  { name: "ThreadPoolExecutor", make: () => new ThreadPoolExecutor({ maxThreads: 2 }) },
  {
    name: "HighThroughputExecutor",
    make: () => new HighThroughputExecutor({ provider: new LocalProvider(), maxWorkersPerNode: 2 }),
  },
];

for (const ex of EXECUTORS) {
  describe(`monitoring on ${ex.name}`, function () {
    this.timeout(60_000);
    const tmp = tmpDir();
    let k: DataFlowKernel | undefined;
    after(async () => {
      await k?.cleanup();
      tmp.remove();
    });

    it("records the workflow, every task with its final state, each try, state transitions, and resources", async () => {
      k = await load({
        executors: [ex.make()],
        runDir: path.join(tmp.dir, "runs"),
        retries: 1,
        monitoring: { resources: true },
        initializeLogging: false,
      });
      const runDir = k.runDir;
      const a = double(21);
      const b = double(a);
      const f = flaky(path.join(tmp.dir, "count"), 1);
      const x = boom();
      const dep = double(x);
      const h = hold(64);
      expect(await b).to.equal(84);
      expect(await f).to.equal("ok");
      await rejection(x);
      await rejection(dep);
      await h;
      await k.cleanup();
      k = undefined;
      const db = new Database(path.join(runDir, "monitoring.db"), { readonly: true });
      try {
        const wf = db.prepare("SELECT * FROM workflow").all() as Row[];
        expect(wf).to.have.length(1);
        expect(wf[0]).to.include({ rundir: runDir, tasks_completed_count: 4, tasks_failed_count: 2 });
        expect(wf[0]!.time_completed).to.be.at.least(wf[0]!.time_began as number);
        const tasks = db
          .prepare("SELECT task_id, task_func_name, task_status_name, task_depends FROM task ORDER BY task_id")
          .all() as Row[];
        expect(tasks.map((t) => [t.task_func_name, t.task_status_name])).to.deep.equal([
          ["double", "exec_done"],
          ["double", "exec_done"],
          ["flaky", "exec_done"],
          ["boom", "failed"],
          ["double", "dep_fail"],
          ["hold", "exec_done"],
        ]);
        expect(String(tasks[1]!.task_depends)).to.contain("1");
        const states = (id: number): string[] =>
          (
            db
              .prepare("SELECT task_status_name FROM status WHERE task_id = ? ORDER BY timestamp, rowid")
              .all(id) as Row[]
          ).map((r) => String(r.task_status_name));
        expect(states(1)).to.deep.equal(["pending", "launched", "exec_done"]);
        // flaky: failed once, retried.
        expect(states(3)).to.deep.equal(["pending", "launched", "pending", "launched", "exec_done"]);
        const tries = db
          .prepare("SELECT task_id, try_id, ok, error_name, error_message FROM try ORDER BY task_id, try_id")
          .all() as Row[];
        const flakyTries = tries.filter((t) => t.task_id === 3);
        expect(flakyTries.map((t) => [t.try_id, t.ok, t.error_name])).to.deep.equal([
          [0, 0, "RangeError"],
          [1, 1, null],
        ]);
        // the final "failed" belongs to the try that failed last (retries: 1, so try 1), not to a next one
        expect(tries.filter((t) => t.task_id === 4).map((t) => t.try_id)).to.deep.equal([0, 1]);
        expect(
          db.prepare("SELECT try_id FROM status WHERE task_id = 4 AND task_status_name = 'failed'").all(),
        ).to.deep.equal([{ try_id: 1 }]);
        expect(tries.find((t) => t.task_id === 4)).to.include({
          ok: 0,
          error_name: "TypeError",
          error_message: "boom on purpose",
        });
        const res = db.prepare("SELECT * FROM resource WHERE task_id = 6").get() as Row | undefined;
        expect(res, "a resource row for the task that held 64 MB").to.not.equal(undefined);
        expect(res!.wall_ms).to.be.at.least(250);
        if (ex.name === "HighThroughputExecutor") {
          expect(res!.peak_rss_kib).to.be.greaterThan(64 * 1024);
          const blocks = db.prepare("SELECT block_id, status FROM block").all() as Row[];
          expect(blocks.length).to.be.greaterThan(0);
          const nodes = db.prepare("SELECT hostname, worker_count, active FROM node").all() as Row[];
          expect(nodes.some((n) => n.active === 1 && n.worker_count === 2)).to.equal(true);
        }
      } finally {
        db.close();
      }
    });

    it("without resource measuring, every try still names its worker and when the worker started it", async () => {
      k = await load({
        executors: [ex.make()],
        runDir: path.join(tmp.dir, "runs"),
        monitoring: true,
        initializeLogging: false,
      });
      const runDir = k.runDir;
      await Promise.all([hold(1), hold(1), double(1)]);
      await k.cleanup();
      k = undefined;
      const db = new Database(path.join(runDir, "monitoring.db"), { readonly: true });
      try {
        const tries = db
          .prepare(
            `SELECT t.task_func_name AS app, y.worker, y.task_try_time_launched AS launched,
                    y.task_try_time_running AS running, y.task_try_time_returned AS returned
             FROM try y JOIN task t USING (run_id, task_id) ORDER BY y.task_id`,
          )
          .all() as { app: string; worker: string | null; launched: number; running: number; returned: number }[];
        expect(tries).to.have.length(3);
        expect(db.prepare("SELECT count(*) AS n FROM resource").get()).to.deep.equal({ n: 0 });
        for (const t of tries) {
          expect(t.worker, `${t.app}'s worker`).to.match(
            ex.name === "ThreadPoolExecutor" ? /^[^:]+:\d+\/\d+$/ : /^[^:]+:\d+$/,
          );
          expect(t.running).to.be.within(t.launched, t.returned);
        }
        // hold() sleeps 300 ms on its worker: the running → returned span covers it
        for (const t of tries.filter((x) => x.app === "hold")) expect(t.returned - t.running).to.be.at.least(250);
      } finally {
        db.close();
      }
    });
  });
}

describe("monitoring store durability", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  after(() => tmp.remove());

  it("a workflow killed with SIGKILL leaves a sound store holding what a reader saw", async () => {
    const runs = path.join(tmp.dir, "killed");
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(import.meta.dirname, "..", "fixtures", "monitoring-workflow.ts"), runs, "2000"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => createInterface({ input: child.stdout }).once("line", () => resolve()));
    const file = path.join(runs, "000", "monitoring.db");
    // A reader watches the live file while the workflow writes; once it sees every task done, the process dies.
    const reader = new Database(file, { readonly: true, fileMustExist: true });
    const done = (): number =>
      (reader.prepare("SELECT count(*) AS n FROM task WHERE task_status_name = 'exec_done'").get() as { n: number }).n;
    expect(await until(() => done() === 2000, 10_000)).to.equal(true);
    reader.close();
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const db = new Database(file);
    try {
      expect((db.prepare("PRAGMA integrity_check").get() as Row).integrity_check).to.equal("ok");
      expect(
        (db.prepare("SELECT count(*) AS n FROM task WHERE task_status_name = 'exec_done'").get() as Row).n,
      ).to.equal(2000);
      expect((db.prepare("SELECT count(*) AS n FROM try WHERE ok = 1").get() as Row).n).to.equal(2000);
    } finally {
      db.close();
    }
  });

  it("bad monitoring options are a ConfigError naming the option", async () => {
    for (const [monitoring, msg] of [
      [{ path: "" }, /config\.monitoring\.path: expected a non-empty string/],
      [{ postgres: "mysql://x" }, /config\.monitoring\.postgres: expected a postgres:\/\/ URL/],
      [{ every: 1 }, /config\.monitoring\.every: unknown option; allowed: path, postgres, resources/],
      ["yes", /config\.monitoring: expected true, false or/],
    ] as const) {
      const e = await rejection(load({ monitoring: monitoring as never, initializeLogging: false }));
      expect(e).to.be.instanceOf(ConfigError);
      expect((e as Error).message).to.match(msg);
    }
    // A store that cannot be opened fails load() with the reason, and leaves no kernel loaded.
    const notADir = path.join(tmp.dir, "plain-file");
    fs.writeFileSync(notADir, "");
    const e = await rejection(
      load({
        monitoring: { path: path.join(notADir, "monitoring.db") },
        runDir: path.join(tmp.dir, "bad"),
        initializeLogging: false,
      }),
    );
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).message).to.contain(path.join(notADir, "monitoring.db"));
    const k = await load({ runDir: path.join(tmp.dir, "ok"), initializeLogging: false });
    await k.cleanup();
  });
});
