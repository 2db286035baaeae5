// The task table: filters by state and app, keyset pages of 100.
import { api } from "../api.js";
import { h, select, table, put } from "../dom.js";
import { fmtCount, fmtDuration, fmtTime, STATES } from "../format.js";
import { note, stateChip, taskLink } from "./common.js";

const PAGE = 100;

export async function renderTasks(mount, ctx) {
  const { run, state: st } = ctx;
  st.state ??= "";
  st.app ??= "";
  // `after` of each page shown so far: the first is undefined
  st.pages ??= [undefined];
  const after = st.pages[st.pages.length - 1];
  const page = await api(
    `runs/${encodeURIComponent(ctx.runId)}/tasks`,
    { state: st.state, app: st.app, after, limit: PAGE },
    ctx.signal,
  );
  const refilter = (key) => (v) => {
    st[key] = v;
    st.pages = [undefined];
    void ctx.reload();
  };
  const stateOptions = [
    ["", "all states"],
    ...STATES.filter((s) => run.states[s] || s === st.state).map((s) => [s, `${s} (${fmtCount(run.states[s] ?? 0)})`]),
  ];
  const appOptions = [
    ["", "all apps"],
    ...run.apps.map((a) => [a.app, `${a.app} (${fmtCount(a.tasks)})`]),
    ...(st.app && !run.apps.some((a) => a.app === st.app) ? [[st.app, st.app]] : []),
  ];
  const rows = page.tasks.map((t) => {
    const tr = h(
      "tr",
      { dataset: { taskId: String(t.taskId) } },
      h("td", { class: "num" }, taskLink(ctx.runId, t.taskId, String(t.taskId))),
      h("td", { class: "app" }, t.app),
      h("td", {}, stateChip(t.state)),
      h("td", {}, t.executor ?? "—"),
      h("td", { class: t.failCount > 0 ? "num bad" : "num" }, String(t.failCount)),
      h("td", { class: "num" }, fmtDuration(t.lastTryMs)),
      h("td", { class: "nowrap" }, fmtTime(t.invoked)),
    );
    tr.addEventListener("click", (e) => {
      if (!(e.target instanceof HTMLAnchorElement)) ctx.go(taskLink(ctx.runId, t.taskId).getAttribute("href"));
    });
    return tr;
  });
  const first = (st.pages.length - 1) * PAGE;
  const prev = h("button", { id: "prev-page", type: "button", disabled: st.pages.length === 1 }, "← Previous");
  const next = h("button", { id: "next-page", type: "button", disabled: page.next === null }, "Next →");
  prev.addEventListener("click", () => {
    st.pages.pop();
    void ctx.reload();
  });
  next.addEventListener("click", () => {
    st.pages.push(page.next);
    void ctx.reload();
  });
  const pager = h(
    "div",
    { class: "pager" },
    prev,
    h(
      "span",
      {},
      page.tasks.length === 0 ? "no tasks" : `${fmtCount(first + 1)}–${fmtCount(first + page.tasks.length)} of `,
      h("span", { id: "task-total" }, String(page.total)),
      page.total === 1 ? " task" : " tasks",
    ),
    next,
  );
  put(
    mount,
    h(
      "div",
      { class: "toolbar" },
      h("label", {}, "State ", select("filter-state", stateOptions, st.state, refilter("state"))),
      h("label", {}, "App ", select("filter-app", appOptions, st.app, refilter("app"))),
    ),
    table("task-table", ["Id", "App", "State", "Executor", "Fails", "Wall time", "Invoked"], rows, "data clickable"),
    page.tasks.length === 0 ? note("No task matches these filters.") : null,
    pager,
    appsTable(ctx, refilter("app")),
  );
}

/** Per app: tasks, states and mean wall time; a click filters the table by it. */
function appsTable(ctx, filterApp) {
  const rows = ctx.run.apps.map((a) => {
    const link = h("a", { href: "#", class: "app" }, a.app);
    link.addEventListener("click", (e) => {
      e.preventDefault();
      filterApp(a.app);
    });
    return h(
      "tr",
      {},
      h("td", {}, link),
      h("td", { class: "num" }, fmtCount(a.tasks)),
      h(
        "td",
        {},
        STATES.filter((s) => a.states[s]).map((s) => stateChip(s, `${s.replace("_", " ")} ${fmtCount(a.states[s])}`)),
      ),
      h("td", { class: "num" }, fmtDuration(a.meanMs)),
    );
  });
  return h(
    "section",
    { class: "apps" },
    h("h2", {}, "Apps"),
    table("apps-table", ["App", "Tasks", "States", "Mean wall time"], rows, "data"),
  );
}
