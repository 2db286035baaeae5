// Blocks over time: how many were running (and pending), how many nodes were connected, and every event.
import { api } from "../api.js";
import { h, s, table, put } from "../dom.js";
import { fmtCount, fmtDuration, fmtTime } from "../format.js";
import { drawAxes, linear, niceTicks, plotSvg, timeTicks } from "../charts/axis.js";
import { note } from "./common.js";

/** `[[t, count]]` steps of how many keys are in a state `isOn` says, from events in time order. */
function steps(events, keyOf, isOn) {
  const on = new Set();
  const out = [];
  for (const e of events) {
    const k = keyOf(e);
    if (isOn(e)) on.add(k);
    else on.delete(k);
    if (out.length > 0 && out[out.length - 1][0] === e.at) out[out.length - 1][1] = on.size;
    else out.push([e.at, on.size]);
  }
  return out;
}

/** A step line through `series` from t0 to t1, starting at 0. */
function stepPath(series, x, y, t0, t1) {
  let d = `M${x(t0).toFixed(1)},${y(0).toFixed(1)}`;
  for (const [t, v] of series) d += ` H${x(t).toFixed(1)} V${y(v).toFixed(1)}`;
  return `${d} H${x(t1).toFixed(1)}`;
}

export async function renderBlocks(mount, ctx) {
  const data = await api(`runs/${encodeURIComponent(ctx.runId)}/blocks`, {}, ctx.signal);
  const run = ctx.run;
  const blockKey = (e) => `${e.executor}\0${e.block}`;
  const state = (e) => e.state.toLowerCase();
  const running = steps(data.blocks, blockKey, (e) => state(e) === "running");
  const pending = steps(data.blocks, blockKey, (e) => state(e) === "pending");
  const nodes = steps(
    data.nodes,
    (e) => `${e.executor}\0${e.manager}`,
    (e) => e.active,
  );
  const last = Math.max(0, ...data.blocks.map((e) => e.at), ...data.nodes.map((e) => e.at));
  const t0 = Math.min(run.began, ...data.blocks.map((e) => e.at), ...data.nodes.map((e) => e.at));
  const t1 = Math.max(t0 + 1, run.completed ?? Math.max(Date.now(), last), last);
  const peak = Math.max(1, ...[running, pending, nodes].flat().map((p) => p[1]));

  const width = Math.max(480, mount.clientWidth || 900);
  const height = 300;
  const box = { left: 60, top: 14, width: width - 80, height: height - 64 };
  const x = linear(t0, t1, box.left, box.left + box.width);
  const y = linear(0, peak * 1.1, box.top + box.height, box.top);
  const svg = plotSvg("blocks-plot", width, height, "running blocks over time");
  const tt = timeTicks(t0, t1, run.began, Math.floor(box.width / 100));
  drawAxes(svg, box, x, y, {
    xTicks: tt.ticks,
    xFmt: tt.label,
    xLabel: "time since the run began",
    yTicks: niceTicks(0, peak * 1.1, Math.min(6, peak + 1)).filter((v) => Number.isInteger(v)),
    yFmt: (v) => String(v),
    yLabel: "count",
  });
  svg.append(
    s("path", { class: "blocks-pending", d: stepPath(pending, x, y, t0, t1) }),
    s("path", { class: "nodes-line", d: stepPath(nodes, x, y, t0, t1) }),
    s("path", { class: "blocks-line", d: stepPath(running, x, y, t0, t1) }),
  );

  const rel = (at) => `+${fmtDuration(at - run.began)}`;
  // a node's later active records are heartbeats, not joins
  const seen = new Set();
  const nodeEvent = (e) => {
    const k = `${e.executor}\0${e.manager}`;
    if (!e.active) return (seen.delete(k), "left");
    if (seen.has(k)) return "still connected";
    seen.add(k);
    return "joined";
  };
  put(
    mount,
    h(
      "div",
      { class: "legend" },
      h("span", { class: "swatch line-running" }),
      "running blocks",
      h("span", { class: "swatch line-pending" }),
      "pending blocks",
      h("span", { class: "swatch line-nodes" }),
      "connected nodes",
    ),
    data.blocks.length === 0 && data.nodes.length === 0
      ? note(
          "No block events: this run's executors do not provision blocks (the thread pool runs in this process; " +
            "the high-throughput executor records its blocks and nodes here).",
        )
      : null,
    h("div", { class: "plot" }, svg),
    h("h3", {}, `Block events (${fmtCount(data.blocks.length)})`),
    table(
      "blocks-table",
      ["Time", "Since start", "Executor", "Block", "Job", "State"],
      data.blocks.map((e) =>
        h(
          "tr",
          { dataset: { block: e.block } },
          h("td", { class: "nowrap" }, fmtTime(e.at)),
          h("td", { class: "num" }, rel(e.at)),
          h("td", {}, e.executor),
          h("td", {}, e.block),
          h("td", {}, e.job ?? "—"),
          h("td", {}, h("span", { class: `block-state block-${state(e)}` }, e.state)),
        ),
      ),
      "data",
    ),
    h("h3", {}, `Nodes joining and leaving (${fmtCount(data.nodes.length)})`),
    table(
      "nodes-table",
      ["Time", "Since start", "Executor", "Manager", "Host", "Block", "Workers", "Event"],
      data.nodes.map((e) =>
        h(
          "tr",
          {},
          h("td", { class: "nowrap" }, fmtTime(e.at)),
          h("td", { class: "num" }, rel(e.at)),
          h("td", {}, e.executor),
          h("td", {}, h("code", {}, e.manager)),
          h("td", {}, e.host),
          h("td", {}, e.block),
          h("td", { class: "num" }, String(e.workers)),
          h("td", {}, nodeEvent(e)),
        ),
      ),
      "data",
    ),
  );
}
