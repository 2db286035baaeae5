// The dashboard (`taskloom monitor`) in a real headless Chromium: stores from real runs (a thread pool with
// failures and dependencies, an htex run with blocks and 120 tasks), every view checked through the pinned DOM
// contract, the timeline checked on a screenshot, and no console errors or failed requests throughout.
import { expect } from "chai";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import type { Page } from "playwright-core";
import { load, HighThroughputExecutor, LocalProvider, ThreadPoolExecutor } from "taskloom";
import { startDashboard, type Dashboard } from "../../lib/dashboard/server.js";
import { openStore, type StoreDb } from "../../lib/monitoring/read.js";
import { ensureChromium, launchChromium, type TestBrowser } from "../helpers/browser.js";
import { countColour, decodePng } from "../helpers/png.js";
import { tmpDir } from "../helpers/tmp.js";
import { explode, merge, quick, stage } from "../fixtures/dashboard-apps.js";

const OK = "#2e7d32";
const FAILED = "#c62828";

/** Records what the page must never do: console errors, uncaught exceptions, failed or refused requests. */
function watch(page: Page, problems: string[], where: () => string): void {
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`${where()}: console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${where()}: uncaught: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`${where()}: request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${where()}: HTTP ${r.status()} for ${r.url()}`);
  });
}

describe("Chromium through playwright-core, and the PNG reader on its screenshots", function () {
  this.timeout(60_000);
  let browser: TestBrowser | undefined;
  let server: http.Server | undefined;

  before(async function () {
    ensureChromium(this);
    server = http.createServer((_req, res) => {
      res.setHeader("content-type", "text/html; charset=utf-8");
      // A canvas, as the timeline draws: two 100x40 bars on white, one per colour.
      res.end(`<!doctype html><link rel="icon" href="data:,"><body style="margin:0">
        <canvas id="c" width="300" height="100"></canvas>
        <script>
          const g = document.getElementById("c").getContext("2d");
          g.fillStyle = "#ffffff"; g.fillRect(0, 0, 300, 100);
          g.fillStyle = "${OK}"; g.fillRect(10, 10, 100, 40);
          g.fillStyle = "${FAILED}"; g.fillRect(150, 50, 100, 40);
          document.body.dataset.loaded = "yes";
        </script>`);
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  it("screenshots a canvas whose bars the PNG reader counts to the pixel", async () => {
    const page = await browser!.newPage();
    const problems: string[] = [];
    watch(page, problems, () => "canvas page");
    await page.goto(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/`);
    await page.waitForSelector('body[data-loaded="yes"]', { state: "attached" });
    const img = decodePng(await page.locator("#c").screenshot());
    expect([img.width, img.height]).to.deep.equal([300, 100]);
    expect(countColour(img, OK, 8)).to.equal(4000);
    expect(countColour(img, FAILED, 8)).to.equal(4000);
    expect(countColour(img, "#ffffff")).to.equal(300 * 100 - 8000);
    expect(problems).to.deep.equal([]);
    await page.close();
  });
});

describe("dashboard in Chromium", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  const store = path.join(tmp.dir, "monitoring.db");
  let threadsRun = "";
  let htexRun = "";
  let db: StoreDb | undefined;
  let dash: Dashboard | undefined;
  let browser: TestBrowser | undefined;
  let page: Page;
  const problems: string[] = [];
  let current = "";

  /** Runs the two workflows whose runs the dashboard shows, both into one store. */
  async function makeRuns(): Promise<void> {
    const threads = await load({
      // 3 threads so three workers have tries (and timeline tracks); sleeping tasks keep them all busy.
      executors: [new ThreadPoolExecutor({ maxThreads: 3 })],
      runDir: path.join(tmp.dir, "threads"),
      retries: 1,
      initializeLogging: false,
      monitoring: { path: store, resources: true, workflowName: "dash-threads" },
    });
    // 14 stages, 14 merges of two neighbours each, 2 failing tasks on merges: 30 tasks, 30 edges, 3 apps.
    const stages = Array.from({ length: 14 }, (_, i) => stage(i, 60));
    const merges = stages.map((s, i) => merge(s, stages[(i + 1) % 14]!, 60));
    const failing = [explode(merges[0]!, 60), explode(merges[1]!, 60)];
    try {
      await Promise.allSettled([...merges, ...failing]);
    } finally {
      await threads.cleanup();
    }

    const htex = await load({
      executors: [new HighThroughputExecutor({ provider: new LocalProvider(), maxWorkersPerNode: 2 })],
      runDir: path.join(tmp.dir, "htex"),
      initializeLogging: false,
      monitoring: { path: store, resources: true, workflowName: "dash-htex" },
    });
    try {
      await Promise.all(Array.from({ length: 120 }, (_, i) => quick(i)));
    } finally {
      await htex.cleanup();
    }
  }

  before(async function () {
    ensureChromium(this);
    await makeRuns();
    db = openStore(store);
    const runs = db.prepare(`SELECT run_id, workflow_name FROM workflow`).all() as {
      run_id: string;
      workflow_name: string;
    }[];
    threadsRun = runs.find((r) => r.workflow_name === "dash-threads")!.run_id;
    htexRun = runs.find((r) => r.workflow_name === "dash-htex")!.run_id;
    dash = await startDashboard({ store, port: 0 });
    browser = await launchChromium();
    page = await browser.newPage();
    watch(page, problems, () => current);
  });
  beforeEach(function () {
    current = this.currentTest?.title ?? "";
  });
  // each view loads without a console error, an uncaught exception or a failed request (but the one asked to fail)
  afterEach(function () {
    const seen = problems.splice(0);
    if (this.currentTest?.state !== "passed") return;
    const asked404 = this.currentTest.title.includes("unknown run");
    expect(seen.filter((p) => !(asked404 && p.includes("404")))).to.deep.equal([]);
  });
  after(async () => {
    await browser?.close();
    await dash?.close();
    db?.close();
    tmp.remove();
  });

  /** Waits until the page says `view` has rendered; an error view fails with its message. */
  async function loaded(view: string): Promise<void> {
    await page.waitForSelector(`body[data-loaded="${view}"], body[data-loaded="error"]`, {
      state: "attached",
      timeout: 10_000,
    });
    const got = await page.locator("body").getAttribute("data-loaded");
    if (got !== view) {
      const msg = await page.locator("#error").textContent();
      throw new Error(`expected view ${view}, the page shows an error: ${msg}`);
    }
  }

  /** Runs `action` (a click, a selection) after clearing the page's loaded mark, then waits for `view`. */
  async function act(view: string, action: () => Promise<unknown>): Promise<void> {
    await page.evaluate(`document.body.dataset.loaded = ""`);
    await action();
    await loaded(view);
  }

  /** Opens a hash route (the first call loads the page). */
  async function open(hash: string, view: string): Promise<void> {
    if (hashOf() === hash) {
      // Setting the same hash fires no hashchange: load the page afresh (which also resets its filters).
      await act(view, () => page.reload());
    } else if (page.url().startsWith(dash!.url)) {
      await act(view, () => page.evaluate(`location.hash = ${JSON.stringify(hash)}`));
    } else {
      await page.goto(dash!.url + hash);
      await loaded(view);
    }
  }

  // In-page code goes as text: the tests compile without the DOM's types.
  const attrs = (sel: string, attr: string): Promise<string[]> =>
    page.evaluate(
      `[...document.querySelectorAll(${JSON.stringify(sel)})].map((e) => e.getAttribute(${JSON.stringify(attr)}))`,
    );
  const ids = async (sel: string): Promise<number[]> => (await attrs(sel, "data-task-id")).map(Number);
  const texts = async (sel: string): Promise<string[]> =>
    (await page.locator(sel).allTextContents()).map((t) => t.trim());
  const count = (sel: string): Promise<number> => page.locator(sel).count();
  const text = async (sel: string): Promise<string> => ((await page.locator(sel).textContent()) ?? "").trim();
  const hashOf = (): string => new URL(page.url()).hash;
  const one = <T>(sql: string, ...args: unknown[]): T =>
    db!
      .prepare(sql)
      .pluck()
      .get(...args) as T;
  const column = <T>(sql: string, ...args: unknown[]): T[] =>
    db!
      .prepare(sql)
      .pluck()
      .all(...args) as T[];

  it("lists both runs, each row linking to its run", async () => {
    await open("#/", "runs");
    const runIds = await attrs("table#runs tbody tr[data-run-id]", "data-run-id");
    expect([...runIds].sort()).to.deep.equal([threadsRun, htexRun].sort());
    expect(await text(`table#runs tbody tr[data-run-id="${threadsRun}"]`)).to.contain("dash-threads");
    await act("tasks", () => page.locator(`table#runs tbody tr[data-run-id="${threadsRun}"] a`).first().click());
    expect(hashOf()).to.match(new RegExp(`^#/run/${threadsRun}(/tasks)?$`));
  });

  it("shows the run's tasks with their total, one page, the last", async () => {
    await open(`#/run/${threadsRun}/tasks`, "tasks");
    expect(await text("#task-total")).to.equal("30");
    expect(await ids("table#task-table tbody tr[data-task-id]")).to.deep.equal(
      column<number>(`SELECT task_id FROM task WHERE run_id = ? ORDER BY task_id`, threadsRun),
    );
    expect(await page.locator("button#next-page").isDisabled()).to.equal(true);
    const failedId = one<number>(
      `SELECT min(task_id) FROM task WHERE run_id = ? AND task_status_name = 'failed'`,
      threadsRun,
    );
    const cells = await texts(`table#task-table tbody tr[data-task-id="${failedId}"] td`);
    expect(cells.slice(0, 5), "id, app, state, executor, fails").to.deep.equal([
      String(failedId),
      "explode",
      "failed",
      one<string>(`SELECT task_executor FROM task WHERE run_id = ? AND task_id = ?`, threadsRun, failedId),
      "2",
    ]);
  });

  it("narrows the table with the state and app filters", async () => {
    await open(`#/run/${threadsRun}/tasks`, "tasks");
    const failed = column<number>(
      `SELECT task_id FROM task WHERE run_id = ? AND task_status_name = 'failed' ORDER BY task_id`,
      threadsRun,
    );
    expect(failed).to.have.length(2);
    await act("tasks", () => page.selectOption("select#filter-state", "failed"));
    expect(await text("#task-total")).to.equal("2");
    expect(await ids("table#task-table tbody tr[data-task-id]")).to.deep.equal(failed);

    await act("tasks", () => page.selectOption("select#filter-state", ""));
    expect(await text("#task-total")).to.equal("30");
    const apps = await attrs("select#filter-app option", "value");
    expect(apps.filter((a) => a !== "").sort()).to.deep.equal(["explode", "merge", "stage"]);
    await act("tasks", () => page.selectOption("select#filter-app", "stage"));
    expect(await text("#task-total")).to.equal("14");
    expect(await ids("table#task-table tbody tr[data-task-id]")).to.deep.equal(
      column<number>(`SELECT task_id FROM task WHERE run_id = ? AND task_func_name = 'stage' ORDER BY 1`, threadsRun),
    );
    // Both filters at once: no stage failed.
    await act("tasks", () => page.selectOption("select#filter-state", "failed"));
    expect(await text("#task-total")).to.equal("0");
    expect(await count("table#task-table tbody tr[data-task-id]")).to.equal(0);
  });

  it("pages through 120 tasks, 100 at a time", async () => {
    await open(`#/run/${htexRun}/tasks`, "tasks");
    expect(await text("#task-total")).to.equal("120");
    const all = column<number>(`SELECT task_id FROM task WHERE run_id = ? ORDER BY task_id`, htexRun);
    expect(await ids("table#task-table tbody tr[data-task-id]")).to.deep.equal(all.slice(0, 100));
    expect(await page.locator("button#next-page").isDisabled()).to.equal(false);
    await act("tasks", () => page.locator("button#next-page").click());
    expect(await ids("table#task-table tbody tr[data-task-id]")).to.deep.equal(all.slice(100));
    expect(await text("#task-total")).to.equal("120");
    expect(await page.locator("button#next-page").isDisabled()).to.equal(true);
  });

  it("opens a failed task from its row: the error as text, the remote stack, every try", async () => {
    await open(`#/run/${threadsRun}/tasks`, "tasks");
    await act("tasks", () => page.selectOption("select#filter-state", "failed"));
    const id = (await ids("table#task-table tbody tr[data-task-id]"))[0]!;
    await act("task", () => page.locator(`table#task-table tbody tr[data-task-id="${id}"] td`).first().click());
    expect(hashOf()).to.equal(`#/run/${threadsRun}/task/${id}`);
    const last = db!
      .prepare(
        `SELECT error_name, error_message, error_stack FROM try WHERE run_id = ? AND task_id = ?
         ORDER BY try_id DESC LIMIT 1`,
      )
      .get(threadsRun, id) as { error_name: string; error_message: string; error_stack: string };
    expect(last.error_message).to.contain("<b>not bold</b>");
    expect(await text("#task-error")).to.equal(`${last.error_name}: ${last.error_message}`);
    expect(await count("#task-error b, #task-stack b, #task-detail b")).to.equal(0, "markup from the store was parsed");
    const stack = await text("pre#task-stack");
    expect(stack).to.equal(last.error_stack.trim());
    expect(stack).to.contain("dashboard-apps.ts");
    expect(await text('#task-detail [data-field="state"]')).to.equal("failed");
    expect(await text('#task-detail [data-field="app"]')).to.equal("explode");
    expect((await attrs("table#task-tries tbody tr[data-try-id]", "data-try-id")).sort()).to.deep.equal(["0", "1"]);
  });

  it("links a task to its dependencies and dependents, and the links navigate", async () => {
    const failing = one<number>(
      `SELECT min(task_id) FROM task WHERE run_id = ? AND task_status_name = 'failed'`,
      threadsRun,
    );
    await open(`#/run/${threadsRun}/task/${failing}`, "task");
    const dep = (
      JSON.parse(
        one<string>(`SELECT task_depends FROM task WHERE run_id = ? AND task_id = ?`, threadsRun, failing),
      ) as number[]
    )[0]!;
    expect(await ids("#task-depends a[data-task-id]")).to.deep.equal([dep]);
    expect(await count("#task-dependents a[data-task-id]")).to.equal(0);
    await act("task", () => page.locator(`#task-depends a[data-task-id="${dep}"]`).click());
    expect(hashOf()).to.equal(`#/run/${threadsRun}/task/${dep}`);
    expect(await text('#task-detail [data-field="app"]')).to.equal("merge");
    expect(await ids("#task-dependents a[data-task-id]")).to.include(failing);
    const stages = JSON.parse(
      one<string>(`SELECT task_depends FROM task WHERE run_id = ? AND task_id = ?`, threadsRun, dep),
    ) as number[];
    expect((await ids("#task-depends a[data-task-id]")).sort((a, b) => a - b)).to.deep.equal(
      [...stages].sort((a, b) => a - b),
    );
    await act("task", () => page.locator(`#task-dependents a[data-task-id="${failing}"]`).click());
    expect(hashOf()).to.equal(`#/run/${threadsRun}/task/${failing}`);
  });

  it("draws the DAG: one node per task, one edge per dependency, failed nodes marked", async () => {
    await open(`#/run/${threadsRun}/tasks`, "tasks");
    await act("dag", () => page.locator('nav#tabs a[data-tab="dag"]').click());
    expect(hashOf()).to.equal(`#/run/${threadsRun}/dag`);
    const edges = column<string>(`SELECT task_depends FROM task WHERE run_id = ?`, threadsRun)
      .map((d) => (JSON.parse(d) as number[]).length)
      .reduce((n, d) => n + d, 0);
    expect(edges).to.equal(30);
    expect(await count("svg#dag g.dag-node[data-task-id]")).to.equal(30);
    expect(await count("svg#dag path.dag-edge")).to.equal(edges);
    const failedNodes = (await ids('svg#dag g.dag-node[data-state="failed"]')).sort((a, b) => a - b);
    expect(failedNodes).to.deep.equal(
      column<number>(
        `SELECT task_id FROM task WHERE run_id = ? AND task_status_name = 'failed' ORDER BY 1`,
        threadsRun,
      ),
    );
  });

  it("paints the timeline: green bars for ok tries, red for failed ones, a track per worker", async () => {
    await open(`#/run/${threadsRun}/timeline`, "timeline");
    const workers = column<string>(`SELECT DISTINCT worker FROM try WHERE run_id = ? ORDER BY 1`, threadsRun);
    expect(workers.length).to.be.at.least(2, "several workers were busy");
    const labels = await attrs("ul#timeline-workers li[data-worker]", "data-worker");
    expect([...labels].sort()).to.deep.equal(workers);
    const img = decodePng(await page.locator("canvas#timeline").screenshot());
    const px = img.width * img.height;
    const green = countColour(img, OK, 10);
    const red = countColour(img, FAILED, 10);
    const white = countColour(img, "#ffffff", 3);
    // 32 tries of ~60 ms over ~2 s on 3 tracks: the bars cover a good part of the canvas, failed ones (4 of 32) less.
    expect(green, `${OK} pixels of ${px}`).to.be.at.least(Math.max(500, px * 0.02));
    expect(red, `${FAILED} pixels of ${px}`).to.be.at.least(Math.max(100, px * 0.002));
    expect(green, "ok tries outnumber failed ones").to.be.greaterThan(red);
    expect(white, "the background is white").to.be.at.least(px * 0.05);
  });

  it("plots one resource point per measured try", async () => {
    await open(`#/run/${threadsRun}/resources`, "resources");
    const measured = one<number>(`SELECT count(*) FROM resource WHERE run_id = ?`, threadsRun);
    expect(measured).to.be.greaterThan(0);
    expect(await count("svg#resource-plot circle.point")).to.equal(measured);
    const metrics = await attrs("select#resource-metric option", "value");
    expect(metrics).to.include.members(["rss", "cpu", "wall"]);
    await act("resources", () => page.selectOption("select#resource-app", "merge"));
    expect(await count("svg#resource-plot circle.point")).to.equal(
      one<number>(
        `SELECT count(*) FROM resource r JOIN task t ON t.run_id = r.run_id AND t.task_id = r.task_id
         WHERE r.run_id = ? AND t.task_func_name = 'merge'`,
        threadsRun,
      ),
    );
  });

  it("shows the htex run's blocks over time", async () => {
    await open(`#/run/${htexRun}/blocks`, "blocks");
    const d = await page.locator("svg#blocks-plot path.blocks-line").first().getAttribute("d");
    expect(d ?? "", "the active-blocks line has a path").to.match(/[0-9]/);
    const rows = await texts("table#blocks-table tbody tr");
    const jobs = column<string>(`SELECT DISTINCT job_id FROM block WHERE run_id = ?`, htexRun);
    expect(jobs, "the htex run started a block").to.not.be.empty;
    expect(rows.length).to.be.at.least(jobs.length);
    for (const job of jobs) expect(rows.join("\n"), `block job ${job}`).to.contain(job);
  });

  it("shows the thread pool run's blocks view empty, without an error", async () => {
    await open(`#/run/${threadsRun}/blocks`, "blocks");
    expect(await count("table#blocks-table tbody tr")).to.equal(0);
  });

  it("shows an unknown run as an error view naming it", async () => {
    await page.evaluate(`document.body.dataset.loaded = ""; location.hash = "#/run/no-such-run/tasks"`);
    await page.waitForSelector('body[data-loaded="error"]', { state: "attached", timeout: 10_000 });
    expect(await text("#error")).to.contain("no-such-run");
  });
});
