// The runs in the store, newest first.
import { api, runHref } from "../api.js";
import { h, table, put } from "../dom.js";
import { fmtTime, runDuration } from "../format.js";
import { chips, note } from "./common.js";

/** Draws the runs table into `mount`; resolves true while a run is still going. */
export async function renderRuns(mount, signal) {
  const runs = await api("runs", {}, signal);
  document.title = "Runs · taskloom monitor";
  const rows = runs.map((r) =>
    h(
      "tr",
      { dataset: { runId: r.runId }, class: r.completed === null ? "running" : null },
      h("td", {}, h("a", { href: runHref(r.runId) }, r.name || "(unnamed workflow)")),
      h("td", {}, h("code", {}, r.runId)),
      h("td", {}, `${r.user ? `${r.user}@` : ""}${r.host || "—"}`),
      h("td", { class: "nowrap" }, fmtTime(r.began)),
      h("td", { class: "nowrap" }, runDuration(r)),
      h("td", {}, chips(r.states)),
    ),
  );
  put(
    mount,
    h("h1", {}, "Runs"),
    runs.length === 0
      ? note("No runs in this store yet: a workflow run with monitoring writes its tasks here as it goes.")
      : table("runs", ["Workflow", "Run", "Host", "Began", "Duration", "Tasks"], rows, "data clickable"),
  );
  // the whole row opens the run, not only its name
  for (const tr of mount.querySelectorAll("#runs tbody tr")) {
    tr.addEventListener("click", (e) => {
      if (!(e.target instanceof HTMLAnchorElement)) location.hash = runHref(tr.dataset.runId);
    });
  }
  return runs.some((r) => r.completed === null);
}
