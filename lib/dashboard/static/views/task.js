// One task: its fields, tries, state changes, neighbours and last error.
import { api, runHref } from "../api.js";
import { h, table, put } from "../dom.js";
import { fmtDuration, fmtKiB, fmtTime } from "../format.js";
import { note, stateChip, taskLink } from "./common.js";

export async function renderTask(mount, ctx) {
  const t = await api(`runs/${encodeURIComponent(ctx.runId)}/tasks/${ctx.taskId}`, {}, ctx.signal);
  const field = (name, label, value) =>
    h("div", { class: "fact" }, h("dt", {}, label), h("dd", { dataset: { field: name } }, value));
  const resources = Object.entries(t.resources)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const lastFailed = [...t.tries].reverse().find((y) => !y.ok);
  put(
    mount,
    h("p", { class: "crumbs" }, h("a", { href: runHref(ctx.runId, "tasks") }, "← Tasks")),
    h("h2", {}, `Task ${t.taskId}`, h("span", { class: "app-title" }, t.app)),
    h(
      "dl",
      { id: "task-detail", class: "facts" },
      field("taskId", "Id", String(t.taskId)),
      field("app", "App", t.app),
      field("state", "State", stateChip(t.state)),
      field("executor", "Executor", t.executor ?? "—"),
      field("invoked", "Invoked", fmtTime(t.invoked)),
      field("returned", "Returned", fmtTime(t.returned)),
      field("duration", "Call to result", t.returned === null ? "—" : fmtDuration(t.returned - t.invoked)),
      field("failCount", "Failed tries", String(t.failCount)),
      field("memoize", "Memoized", t.memoize ? "yes" : "no"),
      field("resources", "Asked for", resources || "—"),
    ),
    errorSection(ctx, t, lastFailed),
    h(
      "div",
      { class: "columns" },
      neighbours("task-depends", "Depends on", ctx.runId, t.depends, "No dependencies."),
      neighbours(
        "task-dependents",
        t.dependents.length >= 100 ? "Dependents (first 100)" : "Dependents",
        ctx.runId,
        t.dependents,
        "No task waited for this one.",
      ),
    ),
    h("h3", {}, "Tries"),
    t.tries.length === 0 ? note("No try has ended.") : null,
    table(
      "task-tries",
      [
        "Try",
        "Result",
        "Executor",
        "Host",
        "Block",
        "Worker",
        "Launched",
        "Started",
        "Took",
        "Peak RSS",
        "CPU",
        "Body wall",
        "Exit",
      ],
      t.tries.map((y) =>
        h(
          "tr",
          { dataset: { tryId: String(y.tryId) }, class: y.ok ? null : "failed" },
          h("td", { class: "num" }, String(y.tryId)),
          h("td", {}, y.ok ? stateChip("exec_done", "ok") : stateChip("failed", y.errorName ?? "failed")),
          h("td", {}, y.executor),
          h("td", {}, y.host ?? "—"),
          h("td", {}, y.block ?? "—"),
          h("td", {}, y.worker ?? "—"),
          h("td", { class: "nowrap" }, fmtTime(y.launched)),
          h("td", { class: "nowrap" }, fmtTime(y.running)),
          h("td", { class: "num" }, fmtDuration(y.returned - y.launched)),
          h("td", { class: "num" }, y.measured ? fmtKiB(y.measured.peakRssKiB) : "—"),
          h("td", { class: "num" }, y.measured ? fmtDuration(y.measured.cpuMs) : "—"),
          h("td", { class: "num" }, y.measured ? fmtDuration(y.measured.wallMs) : "—"),
          h("td", { class: "num" }, y.measured?.exitStatus ?? "—"),
        ),
      ),
      "data",
    ),
    h("h3", {}, "State changes"),
    table(
      "task-statuses",
      ["Time", "After call", "Try", "State"],
      t.statuses.map((st) =>
        h(
          "tr",
          {},
          h("td", { class: "nowrap" }, fmtTime(st.at)),
          h("td", { class: "num" }, `+${fmtDuration(st.at - t.invoked)}`),
          h("td", { class: "num" }, String(st.tryId)),
          h("td", {}, stateChip(st.state)),
        ),
      ),
      "data",
    ),
  );
}

/** The last failed try's error and remote stack; for a dependency failure, which dependencies failed. */
function errorSection(ctx, t, lastFailed) {
  if (lastFailed) {
    return h(
      "section",
      { class: "task-error" },
      h("h3", {}, `Error of try ${lastFailed.tryId}`),
      h(
        "div",
        { id: "task-error", class: "error-text" },
        `${lastFailed.errorName ?? "Error"}: ${lastFailed.errorMessage ?? ""}`,
      ),
      h("pre", { id: "task-stack" }, lastFailed.errorStack ?? "(no stack was recorded)"),
    );
  }
  if (t.state === "dep_fail") {
    const failed = t.depends.filter((d) => ["failed", "dep_fail", "cancelled"].includes(d.state));
    return h(
      "section",
      { class: "task-error" },
      h("h3", {}, "Not run: a dependency failed"),
      h(
        "p",
        {},
        failed.length === 0 ? "The failed dependency is not in this run." : "Failed dependencies: ",
        failed.map((d, i) => [i > 0 ? ", " : "", taskLink(ctx.runId, d.taskId, `#${d.taskId} ${d.app}`)]),
      ),
    );
  }
  return null;
}

function neighbours(id, title, runId, list, empty) {
  return h(
    "section",
    { class: "neighbours" },
    h("h3", {}, title),
    h(
      "ul",
      { id, class: "task-list" },
      list.map((d) =>
        h("li", {}, taskLink(runId, d.taskId), " ", h("span", { class: "app" }, d.app), " ", stateChip(d.state)),
      ),
    ),
    list.length === 0 ? note(empty) : null,
  );
}
