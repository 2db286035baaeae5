// Measured resource use per try against time, as an SVG scatter plot.
import { api, taskHref } from "../api.js";
import { h, s, select, put } from "../dom.js";
import { fmtCount, fmtDuration, fmtKiB } from "../format.js";
import { drawAxes, linear, niceTicks, plotSvg, timeTicks } from "../charts/axis.js";
import { note } from "./common.js";

/** Per metric: its column in a point, axis label, and how a value reads. */
const METRICS = {
  rss: { col: 3, label: "Peak RSS (MiB)", scale: 1 / 1024, fmt: fmtKiB, option: "peak memory (RSS)" },
  cpu: { col: 4, label: "CPU time (ms)", scale: 1, fmt: fmtDuration, option: "CPU time" },
  wall: { col: 5, label: "Wall time of the body (ms)", scale: 1, fmt: fmtDuration, option: "wall time" },
};

export async function renderResources(mount, ctx) {
  const st = ctx.state;
  st.metric ??= "rss";
  st.app ??= "";
  const data = await api(`runs/${encodeURIComponent(ctx.runId)}/resources`, { app: st.app }, ctx.signal);
  const m = METRICS[st.metric];
  const width = Math.max(480, mount.clientWidth || 900);
  const height = 380;
  const box = { left: 70, top: 14, width: width - 90, height: height - 64 };
  const base = ctx.run.began;
  const times = data.points.map((p) => p[2]);
  const values = data.points.map((p) => p[m.col] * m.scale);
  const t0 = Math.min(base, ...times);
  const t1 = Math.max(t0 + 1, ...times, ctx.run.completed ?? 0);
  const vMax = Math.max(1e-9, ...values) * 1.05;
  const x = linear(t0, t1, box.left, box.left + box.width);
  const y = linear(0, vMax, box.top + box.height, box.top);
  const svg = plotSvg("resource-plot", width, height, `${m.label} per try over time`);
  const tt = timeTicks(t0, t1, base, Math.floor(box.width / 100));
  drawAxes(svg, box, x, y, {
    xTicks: tt.ticks,
    xFmt: tt.label,
    xLabel: "time since the run began (when the try returned)",
    yTicks: niceTicks(0, vMax, 6),
    yFmt: (v) => fmtCount(Number(v.toPrecision(6))),
    yLabel: m.label,
  });
  const points = s("g", { class: "points" });
  data.points.forEach((p, i) => {
    const c = s(
      "circle",
      {
        class: "point",
        cx: x(p[2]).toFixed(1),
        cy: y(values[i]).toFixed(1),
        r: 3.5,
        dataset: { taskId: String(p[0]) },
      },
      s("title", {}, `task ${p[0]} try ${p[1]}: ${m.fmt(p[m.col])} at +${fmtDuration(p[2] - base)}`),
    );
    c.addEventListener("click", () => ctx.go(taskHref(ctx.runId, p[0])));
    points.append(c);
  });
  svg.append(points);

  const sorted = data.points.map((p) => p[m.col]).sort((a, b) => a - b);
  const q = (f) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]);
  put(
    mount,
    h(
      "div",
      { class: "toolbar" },
      h(
        "label",
        {},
        "Metric ",
        select(
          "resource-metric",
          Object.entries(METRICS).map(([k, v]) => [k, v.option]),
          st.metric,
          (v) => {
            st.metric = v;
            void ctx.reload();
          },
        ),
      ),
      h(
        "label",
        {},
        "App ",
        select("resource-app", [["", "all apps"], ...data.apps.map((a) => [a, a])], st.app, (v) => {
          st.app = v;
          void ctx.reload();
        }),
      ),
      h(
        "span",
        { class: "range" },
        data.points.length < data.total
          ? `${fmtCount(data.points.length)} of ${fmtCount(data.total)} measured tries (an even sample)`
          : `${fmtCount(data.total)} measured tries`,
        sorted.length > 0
          ? ` · median ${m.fmt(q(0.5))} · p95 ${m.fmt(q(0.95))} · max ${m.fmt(sorted[sorted.length - 1])}`
          : "",
      ),
    ),
    data.total === 0
      ? note("No measured tries: resource use is recorded with monitoring: { resources: true }, once tries end.")
      : null,
    h("div", { class: "plot" }, svg),
  );
}
