// The dashboard's page: a hash router over the views, the run header and
// tabs, and the refresh of runs that are still going.
import { api, runHref } from "./api.js";
import { h } from "./dom.js";
import { fmtCount, fmtTime, runDuration } from "./format.js";
import { chips } from "./views/common.js";
import { renderRuns } from "./views/runs.js";
import { renderTasks } from "./views/tasks.js";
import { renderTask } from "./views/task.js";
import { renderDag } from "./views/dag.js";
import { renderTimeline } from "./views/timeline.js";
import { renderResources } from "./views/resources.js";
import { renderBlocks } from "./views/blocks.js";

/** How often a view of an unfinished run reloads, ms. */
const REFRESH_MS = 3000;

const TABS = [
  ["tasks", "Tasks", renderTasks],
  ["dag", "DAG", renderDag],
  ["timeline", "Timeline", renderTimeline],
  ["resources", "Resources", renderResources],
  ["blocks", "Blocks", renderBlocks],
];

const viewEl = document.getElementById("view");
const errorEl = document.getElementById("error");
const liveEl = document.getElementById("live");

/** The navigation being shown: aborted when the next starts. */
let current = null;

const setLoaded = (v) => (document.body.dataset.loaded = v);

function showError(e) {
  errorEl.textContent = e instanceof Error ? e.message : String(e);
  errorEl.hidden = false;
  setLoaded("error");
}

/** `#/run/<id>/<tab>` → { view, runId, tab, taskId }. */
function parseHash(hash) {
  const parts = hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter((p) => p !== "");
  if (parts.length === 0) return { view: "runs" };
  if (parts[0] !== "run" || parts.length < 2) return { view: "unknown" };
  let runId;
  try {
    runId = decodeURIComponent(parts[1]);
  } catch {
    return { view: "unknown" };
  }
  if (parts.length === 2) return { view: "tasks", runId, tab: "tasks" };
  if (parts[2] === "task" && parts.length === 4 && /^\d+$/.test(parts[3])) {
    return { view: "task", runId, taskId: Number(parts[3]) };
  }
  if (parts.length === 3 && TABS.some(([t]) => t === parts[2])) return { view: parts[2], runId, tab: parts[2] };
  return { view: "unknown" };
}

/** The run's title, facts and tabs. */
function runHeader(run, active) {
  const total = Object.values(run.states).reduce((a, b) => a + b, 0);
  const fact = (label, value, title) => h("div", { class: "fact" }, h("dt", {}, label), h("dd", { title }, value));
  return h(
    "section",
    { class: "run-head" },
    h(
      "div",
      { class: "crumbs" },
      h("a", { href: "#/" }, "Runs"),
      " / ",
      h("span", {}, run.name || "(unnamed workflow)"),
    ),
    h("h1", {}, run.name || "(unnamed workflow)", h("code", { class: "run-id" }, run.runId)),
    h(
      "dl",
      { class: "facts" },
      fact("Host", `${run.user ? `${run.user}@` : ""}${run.host || "—"}`),
      fact("Began", fmtTime(run.began)),
      fact("Duration", runDuration(run)),
      fact("Tasks", fmtCount(total)),
      fact("Workers", fmtCount(run.workers)),
      fact("Executors", run.executors.join(", ") || "—"),
      fact("Run dir", run.runDir || "—", run.runDir),
    ),
    chips(run.states),
    h(
      "nav",
      { id: "tabs", class: "tabs" },
      TABS.map(([tab, label]) =>
        h("a", { href: runHref(run.runId, tab), class: tab === active ? "active" : null, dataset: { tab } }, label),
      ),
    ),
  );
}

/**
 * Shows the view of the current hash. Tab views get a context whose
 * `reload()` re-renders them in place (filters, pages, zoom), marking the
 * page not loaded until the new data is drawn, as a navigation does.
 */
async function navigate() {
  if (current !== null) {
    current.abort.abort();
    clearTimeout(current.timer);
  }
  const nav = { abort: new AbortController(), timer: 0, seq: 0, busy: 0 };
  current = nav;
  const signal = nav.abort.signal;
  setLoaded("");
  errorEl.hidden = true;
  liveEl.hidden = true;
  const route = parseHash(location.hash);
  try {
    if (route.view === "unknown") throw new Error(`no such page: ${location.hash}; try #/ for the runs`);
    if (route.view === "runs") {
      await cycle(nav, () => renderRuns(viewEl, signal), "runs");
      return;
    }
    const head = h("div");
    const body = h("div", { class: "tab-body" }, h("p", { class: "muted" }, "Loading…"));
    viewEl.replaceChildren(head, body);
    const renderer = route.view === "task" ? renderTask : TABS.find(([t]) => t === route.tab)[2];
    const ctx = {
      run: null,
      runId: route.runId,
      taskId: route.taskId,
      signal,
      /** Kept across reloads and refreshes of this view: filters, page, zoom. */
      state: {},
      go: (hash) => (location.hash = hash),
      /** While true (a drag), the live refresh waits. */
      hold: (on) => (nav.busy += on ? 1 : -1),
      reload: () => rerender(nav, () => renderer(body, ctx), route.view),
    };
    const draw = async () => {
      const run = await api(`runs/${encodeURIComponent(route.runId)}`, {}, signal);
      ctx.run = run;
      head.replaceChildren(runHeader(run, route.tab));
      await renderer(body, ctx);
      document.title = `${run.name || run.runId} · taskloom monitor`;
      return run.completed === null;
    };
    await cycle(nav, draw, route.view);
  } catch (e) {
    if (!signal.aborted) showError(e);
  }
}

/** Draws, marks the view loaded, and while `draw` says the run is live, draws again every few seconds. */
async function cycle(nav, draw, view) {
  const live = await draw();
  if (nav.abort.signal.aborted) return;
  setLoaded(view);
  liveEl.hidden = !live;
  if (!live) return;
  const again = async () => {
    // a reload the user asked for, a drag or an open menu is under way: try at the next tick
    if (nav.busy > 0 || document.activeElement?.tagName === "SELECT") {
      nav.timer = setTimeout(again, REFRESH_MS);
      return;
    }
    try {
      const stillLive = await draw();
      if (nav.abort.signal.aborted) return;
      setLoaded(document.body.dataset.loaded || view);
      liveEl.hidden = !stillLive;
      if (stillLive) nav.timer = setTimeout(again, REFRESH_MS);
    } catch (e) {
      if (!nav.abort.signal.aborted) showError(e);
    }
  };
  nav.timer = setTimeout(again, REFRESH_MS);
}

/** An in-view reload: not loaded until the newest one has drawn. */
async function rerender(nav, draw, view) {
  const seq = ++nav.seq;
  nav.busy++;
  setLoaded("");
  errorEl.hidden = true;
  try {
    await draw();
    if (seq === nav.seq && !nav.abort.signal.aborted) setLoaded(view);
  } catch (e) {
    if (!nav.abort.signal.aborted) showError(e);
  } finally {
    nav.busy--;
  }
}

window.addEventListener("hashchange", () => void navigate());
void navigate();
