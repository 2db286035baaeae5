// The dashboard's HTTP server and `taskloom monitor`, over the store of a real run (no browser here).
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { load, ThreadPoolExecutor, type AppFuture } from "taskloom";
import { startDashboard, type Dashboard } from "../../lib/dashboard/server.js";
import { staticDir } from "../../lib/dashboard/static-files.js";
import type {
  BlockHistory,
  DagSlice,
  ResourcePoints,
  RunOverview,
  RunSummary,
  TaskDetail,
  TaskPage,
  Timeline,
} from "../../lib/dashboard/api.js";
import { SCHEMA } from "../../lib/monitoring/schema.js";
import { ConfigError } from "../../lib/errors.js";
import { boom, double, hold } from "../fixtures/monitoring-apps.js";
import { rejection, tmpDir } from "../helpers/tmp.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/lib/cli/main.js");

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw request: the path is sent as given (no URL normalisation), as an attacker would. */
function request(base: string, rawPath: string, o: { method?: string; host?: string } = {}): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: rawPath,
        method: o.method ?? "GET",
        headers: o.host !== undefined ? { host: o.host } : {},
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** `GET /api/<p>`, expecting JSON. */
async function api<T>(base: string, p: string, status = 200): Promise<T> {
  const a = await request(base, `/api/${p}`);
  expect(a.status, `${p}: ${a.body}`).to.equal(status);
  expect(a.headers["content-type"]).to.equal("application/json; charset=utf-8");
  expect(a.headers["cache-control"]).to.equal("no-store");
  return JSON.parse(a.body) as T;
}

/** Starts `taskloom monitor` and waits for the URL it prints. */
async function startCli(args: string[]): Promise<{ child: ChildProcess; url: string; err: () => string }> {
  const child = spawn(process.execPath, [CLI, "monitor", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^taskloom monitor: (http:\/\/127\.0\.0\.1:\d+\/)\n/m.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`monitor exited (${code}) before printing its URL: ${err}`)));
  });
  return { child, url, err: () => err };
}

/** Runs the CLI to its end. */
async function runCli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, out, err };
}

describe("taskloom monitor: the dashboard's HTTP server", function () {
  this.timeout(120_000);
  const tmp = tmpDir("taskloom-dash-");
  let runDir: string;
  let store: string;
  let dash: Dashboard;
  let base: string;
  let runId: string;
  const ids: Record<"a" | "b" | "c" | "boom" | "after" | "hold", number> = {
    a: 0,
    b: 0,
    c: 0,
    boom: 0,
    after: 0,
    hold: 0,
  };

  before(async () => {
    const k = await load({
      executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
      runDir: path.join(tmp.dir, "runinfo"),
      monitoring: { resources: true },
    });
    // a chain a → b → c, a failure and the task that waited for it, and a task that holds memory
    const a = double(1);
    const b = double(a);
    const c = double(b);
    const bad = boom();
    const after = double(bad);
    const h = hold(8);
    const all: AppFuture<unknown>[] = [a, b, c, bad, after, h];
    await Promise.allSettled(all);
    Object.assign(ids, {
      a: a.taskId,
      b: b.taskId,
      c: c.taskId,
      boom: bad.taskId,
      after: after.taskId,
      hold: h.taskId,
    });
    await k.cleanup();
    runDir = k.runDir;
    store = path.join(runDir, "monitoring.db");
    dash = await startDashboard({ store, port: 0 });
    base = dash.url;
    runId = (await api<RunSummary[]>(base, "runs"))[0]!.runId;
  });

  after(async () => {
    await dash?.close();
    tmp.remove();
  });

  it("listens on loopback and names its URL", () => {
    expect(base).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("lists the run with its task counts by state", async () => {
    const runs = await api<RunSummary[]>(base, "runs");
    expect(runs).to.have.length(1);
    expect(runs[0]!.runId).to.equal(runId);
    expect(runs[0]!.completed).to.be.a("number");
    expect(runs[0]!.states).to.deep.equal({ exec_done: 4, failed: 1, dep_fail: 1 });
  });

  it("gives a run's overview: apps, executors, extent and workers", async () => {
    const o = await api<RunOverview>(base, `runs/${runId}`);
    expect(o.runDir).to.equal(runDir);
    expect(o.executors).to.deep.equal(["threads"]);
    const apps = Object.fromEntries(o.apps.map((x) => [x.app, x.tasks]));
    expect(apps).to.deep.equal({ double: 4, boom: 1, hold: 1 });
    expect(o.firstLaunch).to.be.a("number");
    expect(o.lastReturn).to.be.at.least(o.firstLaunch!);
    expect(o.workers).to.be.within(1, 2);
  });

  it("pages through tasks by id and filters them by state and app", async () => {
    const all = await api<TaskPage>(base, `runs/${runId}/tasks`);
    expect(all.total).to.equal(6);
    expect(all.next).to.equal(null);
    const first = await api<TaskPage>(base, `runs/${runId}/tasks?limit=4`);
    expect(first.tasks.map((t) => t.taskId)).to.deep.equal(all.tasks.slice(0, 4).map((t) => t.taskId));
    expect(first.total).to.equal(6);
    expect(first.next).to.equal(first.tasks[3]!.taskId);
    const second = await api<TaskPage>(base, `runs/${runId}/tasks?limit=4&after=${first.next}`);
    expect(second.tasks.map((t) => t.taskId)).to.deep.equal(all.tasks.slice(4).map((t) => t.taskId));
    expect(second.next).to.equal(null);

    const failed = await api<TaskPage>(base, `runs/${runId}/tasks?state=failed`);
    expect(failed.total).to.equal(1);
    expect(failed.tasks[0]).to.include({ taskId: ids.boom, app: "boom", state: "failed", failCount: 1 });
    const doubles = await api<TaskPage>(base, `runs/${runId}/tasks?app=double&state=exec_done`);
    expect(doubles.tasks.map((t) => t.taskId)).to.deep.equal([ids.a, ids.b, ids.c]);
    const none = await api<TaskPage>(base, `runs/${runId}/tasks?app=${encodeURIComponent("no such app")}`);
    expect(none).to.deep.equal({ tasks: [], total: 0, next: null });
  });

  it("shows a failed task's error with its remote stack, and its dependents", async () => {
    const t = await api<TaskDetail>(base, `runs/${runId}/tasks/${ids.boom}`);
    expect(t).to.include({ taskId: ids.boom, app: "boom", state: "failed", failCount: 1 });
    expect(t.tries).to.have.length(1);
    expect(t.tries[0]).to.include({ ok: false, errorName: "TypeError", errorMessage: "boom on purpose" });
    expect(t.tries[0]!.errorStack).to.contain("boom on purpose").and.to.contain("monitoring-apps");
    expect(t.tries[0]!.worker).to.be.a("string");
    expect(t.dependents).to.deep.equal([{ taskId: ids.after, app: "double", state: "dep_fail" }]);
    expect(t.statuses.map((s) => s.state)).to.include.members(["pending", "launched", "failed"]);
  });

  it("shows a task's dependencies, dependents and measured resources", async () => {
    const b = await api<TaskDetail>(base, `runs/${runId}/tasks/${ids.b}`);
    expect(b.depends).to.deep.equal([{ taskId: ids.a, app: "double", state: "exec_done" }]);
    expect(b.dependents).to.deep.equal([{ taskId: ids.c, app: "double", state: "exec_done" }]);
    const h = await api<TaskDetail>(base, `runs/${runId}/tasks/${ids.hold}`);
    expect(h.tries[0]!.ok).to.equal(true);
    expect(h.tries[0]!.measured!.peakRssKiB).to.be.above(8 * 1024);
    expect(h.tries[0]!.measured!.wallMs).to.be.above(250);
    const waiting = await api<TaskDetail>(base, `runs/${runId}/tasks/${ids.after}`);
    expect(waiting.state).to.equal("dep_fail");
    expect(waiting.tries).to.deep.equal([]);
  });

  it("gives the DAG with every edge", async () => {
    const d = await api<DagSlice>(base, `runs/${runId}/dag`);
    expect(d.nodes.map((n) => n.taskId).sort((x, y) => x - y)).to.deep.equal(Object.values(ids).sort((x, y) => x - y));
    expect(d.edges).to.deep.include.members([
      [ids.a, ids.b],
      [ids.b, ids.c],
      [ids.boom, ids.after],
    ]);
    expect(d.edges).to.have.length(3);
    expect(d.maxTaskId).to.equal(Math.max(...Object.values(ids)));
    const slice = await api<DagSlice>(base, `runs/${runId}/dag?from=${ids.b}&to=${ids.c}`);
    expect(slice.nodes.map((n) => n.taskId)).to.deep.equal([ids.b, ids.c]);
    expect(slice.edges).to.deep.equal([[ids.b, ids.c]]);
  });

  it("gives the timeline per worker, and a zoomed window", async () => {
    const tl = await api<Timeline>(base, `runs/${runId}/timeline`);
    const bars = tl.workers.flatMap((w) => w.bars);
    expect(bars).to.have.length(5); // the task whose dependency failed never ran
    expect(bars.filter((b) => b[4] === 0).map((b) => b[0])).to.deep.equal([ids.boom]);
    expect(tl.truncated).to.equal(false);
    for (const b of bars) expect(b[2]).to.be.at.least(tl.from).and.at.most(b[3]);
    // a window before the run holds nothing
    const empty = await api<Timeline>(base, `runs/${runId}/timeline?from=${tl.from - 10_000}&to=${tl.from - 5_000}`);
    expect(empty.workers.flatMap((w) => w.bars)).to.deep.equal([]);
    expect(empty.from).to.equal(tl.from - 10_000);
  });

  it("gives measured resource points, per app", async () => {
    const r = await api<ResourcePoints>(base, `runs/${runId}/resources`);
    expect(r.total).to.equal(5);
    expect(r.points).to.have.length(5);
    expect(r.apps).to.have.members(["double", "boom", "hold"]);
    const h = await api<ResourcePoints>(base, `runs/${runId}/resources?app=hold`);
    expect(h.points.map((p) => p[0])).to.deep.equal([ids.hold]);
    expect(h.points[0]![3]).to.be.above(8 * 1024);
  });

  it("gives block history (none for a thread pool)", async () => {
    expect(await api<BlockHistory>(base, `runs/${runId}/blocks`)).to.deep.equal({ blocks: [], nodes: [] });
  });

  it("answers bad parameters with 400 naming the parameter and what is allowed", async () => {
    const cases: [string, string][] = [
      ["tasks?limit=x", `limit: expected an integer 1–500, got "x"`],
      ["tasks?limit=0", `limit: expected an integer 1–500, got "0"`],
      ["tasks?limit=501", `limit: expected an integer 1–500, got "501"`],
      ["tasks?after=-1", `after: expected an integer ≥ 0, got "-1"`],
      ["tasks?after=1.5", `after: expected an integer ≥ 0, got "1.5"`],
      ["tasks?state=done", `state: expected one of unsched, pending, launched, running, exec_done, memo_done, failed`],
      ["tasks?sort=id", `sort: unknown parameter; allowed: state, app, after, limit`],
      ["tasks?limit=1&limit=2", `limit: given more than once`],
      ["tasks/abc", `task id: expected an integer ≥ 0, got "abc"`],
      ["dag?from=9&to=3", `to: expected at least from (9), got 3`],
      ["dag?from=0&to=5000", `to: a window spans at most 2,000 task ids`],
      ["timeline?from=5", `to: missing; give both from and to (ms since the epoch) or neither`],
      ["timeline?from=x&to=5", `from: expected an integer ≥ 0, got "x"`],
      ["blocks?x=1", `x: unknown parameter; this endpoint takes none`],
    ];
    for (const [p, message] of cases) {
      const e = await api<{ error: string }>(base, `runs/${runId}/${p}`, 400);
      expect(e.error, p).to.contain(message);
    }
  });

  it("answers unknown runs, tasks and paths with 404", async () => {
    const noRun = await api<{ error: string }>(base, "runs/no-such-run/tasks", 404);
    expect(noRun.error).to.equal(`no run "no-such-run" in this store; it has: ${runId}`);
    const noTask = await api<{ error: string }>(base, `runs/${runId}/tasks/9999`, 404);
    expect(noTask.error).to.equal(`no task 9999 in run ${runId}`);
    const noEndpoint = await api<{ error: string }>(base, `runs/${runId}/gantt`, 404);
    expect(noEndpoint.error).to.contain("no such endpoint").and.contain("timeline");
    await api(base, "workflows", 404);
    for (const p of ["/nothing", "/static/nothing.js", "/static/", "/static/views"]) {
      const a = await request(base, p);
      expect(a.status, p).to.equal(404);
      expect(JSON.parse(a.body)).to.have.property("error");
    }
  });

  it("refuses every method but GET and HEAD with 405", async () => {
    for (const [method, p] of [
      ["POST", "/api/runs"],
      ["DELETE", `/api/runs/${runId}`],
      ["PUT", "/"],
    ] as const) {
      const a = await request(base, p, { method });
      expect(a.status, `${method} ${p}`).to.equal(405);
      expect(a.headers.allow).to.equal("GET, HEAD");
      expect(JSON.parse(a.body)).to.deep.equal({
        error: `method ${method} not allowed: the dashboard is read-only (GET, HEAD)`,
      });
    }
    const head = await request(base, "/api/runs", { method: "HEAD" });
    expect(head.status).to.equal(200);
    expect(head.body).to.equal("");
  });

  it("serves nothing outside its static folder", async () => {
    const secret = fs.readFileSync(path.join(ROOT, "lib/dashboard/server.ts"), "utf8").slice(0, 40);
    for (const p of [
      "/static/../server.ts",
      "/static/../../../package.json",
      "/static/%2e%2e/server.ts",
      "/static/..%2fserver.ts",
      "/static/..%2f..%2f..%2fpackage.json",
      "/static/..%5cserver.ts",
      "/static/views/..%2f..%2fserver.ts",
      `/static/${encodeURIComponent(path.join(ROOT, "package.json"))}`,
      "/static//etc/passwd",
      "/static/%00index.html",
      "/static/%zz",
      "/../../../etc/passwd",
    ]) {
      const a = await request(base, p);
      expect(a.status, p).to.be.oneOf([400, 404]);
      expect(a.body, p).to.not.contain(secret).and.not.contain('"name": "taskloom"').and.not.contain("root:");
    }
  });

  it("refuses requests for another host name (DNS rebinding)", async () => {
    const a = await request(base, "/api/runs", { host: "attacker.example:80" });
    expect(a.status).to.equal(403);
    expect(JSON.parse(a.body)).to.have.property("error").that.contains("attacker.example");
    expect((await request(base, "/api/runs", { host: `localhost:${new URL(base).port}` })).status).to.equal(200);
  });

  it("serves the page and every module it imports with their content types", async () => {
    const page = await request(base, "/");
    expect(page.status).to.equal(200);
    expect(page.headers["content-type"]).to.equal("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).to.contain("default-src 'self'");
    expect(page.body).to.contain('<script type="module" src="static/app.js">');
    // follow the page's links and every module's imports: each must be served, as what it is
    const seen = new Set<string>();
    const queue = [...page.body.matchAll(/(?:href|src)="(static\/[^"]+)"/g)].map((m) => `/${m[1]}`);
    expect(queue).to.include.members(["/static/style.css", "/static/app.js"]);
    while (queue.length > 0) {
      const p = queue.shift()!;
      if (seen.has(p)) continue;
      seen.add(p);
      const a = await request(base, p);
      expect(a.status, p).to.equal(200);
      expect(a.headers["content-type"], p).to.equal(
        p.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
      );
      for (const m of a.body.matchAll(/^(?:import|export)[^;]*? from "(\.[^"]+)";/gm)) {
        queue.push(new URL(m[1]!, `http://x${p}`).pathname);
      }
    }
    expect(seen.size).to.be.above(10);
    // the page shows store text as text: no markup built from strings
    for (const p of seen)
      if (p.endsWith(".js"))
        expect((await request(base, p)).body, p).to.not.match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it("finds its static folder from dist/ as well as from source", () => {
    const fromDist = staticDir(pathToFileURL(path.join(ROOT, "dist/lib/dashboard/static-files.js")).href);
    expect(fromDist).to.equal(path.join(ROOT, "lib/dashboard/static"));
    expect(staticDir()).to.equal(path.join(ROOT, "lib/dashboard/static"));
  });

  it("answers a failing query with 500 and keeps serving", async () => {
    // a store whose block table is missing: that one query fails, the rest answer
    const file = path.join(tmp.dir, "partial.db");
    const db = new Database(file);
    for (const s of SCHEMA.filter((x) => !/\bblock\b/.test(x))) db.exec(s);
    db.prepare(`INSERT INTO workflow VALUES ('r1', 'partial', '/tmp/r', 'h', 'u', 1000, 2000, 0, 0)`).run();
    db.close();
    const d = await startDashboard({ store: file, port: 0 });
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string) => logged.push(String(chunk)) > 0;
    try {
      const e = await api<{ error: string }>(d.url, "runs/r1/blocks", 500);
      expect(e.error).to.match(/^internal error: .*no such table: block/);
      process.stderr.write = write;
      expect(logged.join("")).to.contain("GET /api/runs/r1/blocks");
      expect((await api<RunSummary[]>(d.url, "runs"))[0]!.runId).to.equal("r1");
    } finally {
      process.stderr.write = write;
      await d.close();
    }
  });

  it("reports a file that is not a store, and a taken port, as ConfigError", async () => {
    const notStore = path.join(tmp.dir, "notes.txt");
    fs.writeFileSync(notStore, "not a database");
    const e = await rejection(startDashboard({ store: notStore, port: 0 }));
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).message).to.contain("is not a taskloom monitoring store");
    const port = Number(new URL(base).port);
    const taken = await rejection(startDashboard({ store, port }));
    expect(taken).to.be.instanceOf(ConfigError);
    expect((taken as Error).message).to.equal(
      `port ${port} on 127.0.0.1 is in use; choose another with --port N (0 = any free port)`,
    );
  });

  describe("the taskloom monitor command", () => {
    it("prints its URL, serves the page from dist/, and stops cleanly on SIGTERM", async () => {
      const { child, url, err } = await startCli([path.dirname(runDir), "--port", "0"]);
      const exited = once(child, "exit");
      try {
        const runs = await api<RunSummary[]>(url, "runs");
        expect(runs.map((r) => r.runId)).to.deep.equal([runId]);
        const page = await request(url, "/");
        expect(page.status).to.equal(200);
        expect(page.body).to.contain("static/app.js");
        const js = await request(url, "/static/app.js");
        expect(js.headers["content-type"]).to.equal("text/javascript; charset=utf-8");
      } finally {
        child.kill("SIGTERM");
      }
      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      expect({ code, signal }).to.deep.equal({ code: 0, signal: null });
      expect(err()).to.contain("SIGTERM, stopping");
      await rejection(request(url, "/api/runs"));
    });

    it("stops on SIGINT too", async () => {
      const { child } = await startCli([store, "--port=0", "--host", "127.0.0.1"]);
      const exited = once(child, "exit");
      child.kill("SIGINT");
      expect((await exited)[0]).to.equal(0);
    });

    it("exits 1 for a bad store path and 2 for bad options, with a clear message", async () => {
      const missing = path.join(tmp.dir, "nowhere", "monitoring.db");
      const r = await runCli(["monitor", missing, "--port", "0"]);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal(`taskloom monitor: no such file or directory: ${missing}\n`);
      expect(r.out).to.equal("");

      const notStore = path.join(tmp.dir, "notes2.txt");
      fs.writeFileSync(notStore, "plain text");
      const bad = await runCli(["monitor", notStore, "--port", "0"]);
      expect(bad.code).to.equal(1);
      expect(bad.err).to.match(/^taskloom monitor: .*notes2\.txt is not a taskloom monitoring store/);

      const port = await runCli(["monitor", store, "--port", "http"]);
      expect(port.code).to.equal(2);
      expect(port.err).to.contain(`--port: expected an integer 0–65535, got "http" (0 = any free port)`);
      expect(port.err).to.contain("usage: taskloom monitor");

      const opt = await runCli(["monitor", store, "--open"]);
      expect(opt.code).to.equal(2);
      expect(opt.err).to.contain("unknown option --open; allowed: --port N, --host H");
      // names every object has are not options either
      const inherited = await runCli(["monitor", store, "--constructor=1"]);
      expect(inherited.code).to.equal(2);
      expect(inherited.err).to.contain("unknown option --constructor");
    });

    it("is listed in taskloom help", async () => {
      const r = await runCli(["help"]);
      expect(r.out).to.contain("monitor [db] [--port N] [--host H]");
    });
  });
});
