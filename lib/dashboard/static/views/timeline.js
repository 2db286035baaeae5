// The Gantt timeline: one track per worker on a canvas, time left to right.
// Zoom asks the server for a window (from/to), so a run of any size draws
// only what is in view.
import { api, taskHref } from "../api.js";
import { h, put } from "../dom.js";
import { fmtCount, fmtDuration, fmtTime } from "../format.js";
import { linear, timeTicks } from "../charts/axis.js";
import { note } from "./common.js";

/** Pinned colours (the browser tests count them in a screenshot). */
const OK = "#2e7d32";
const FAILED = "#c62828";
const BACKGROUND = "#ffffff";
const GRID = "#e3e6ea";
const TEXT = "#4a4f57";

const LANE_H = 14;
const LANE_GAP = 2;
const TRACK_PAD = 4;
/** Tries of one worker overlapping in time (queueing on the kernel's clock) go on extra lanes, up to this many. */
const MAX_LANES = 4;
const AXIS_H = 26;
/** A drag shorter than this (px) is a click. */
const DRAG_MIN = 4;

export async function renderTimeline(mount, ctx) {
  const st = ctx.state;
  const params = st.win ? { from: st.win.from, to: st.win.to } : {};
  const tl = await api(`runs/${encodeURIComponent(ctx.runId)}/timeline`, params, ctx.signal);
  const from = st.win?.from ?? tl.from;
  const to = Math.max(st.win?.to ?? tl.to, from + 1);
  const tracks = tl.workers.map((w) => placeLanes(w));
  const full = { from: ctx.run.firstLaunch ?? tl.from, to: ctx.run.lastReturn ?? tl.to };

  const canvas = h("canvas", { id: "timeline", role: "img", "aria-label": "timeline of tries per worker" });
  const labels = h(
    "ul",
    { id: "timeline-workers" },
    tracks.map((t) => {
      const li = h(
        "li",
        { dataset: { worker: t.worker }, title: `${t.worker}: ${fmtCount(t.bars.length)} tries in view` },
        t.worker,
      );
      li.style.height = `${t.height}px`;
      return li;
    }),
  );
  const tip = h("div", { id: "timeline-tip", class: "tip", hidden: true });
  const sel = h("div", { id: "timeline-sel", class: "selection", hidden: true });
  const box = h("div", { class: "canvas-box" }, canvas, sel, tip);

  const zoomTo = (a, b) => {
    const lo = Math.max(0, Math.floor(Math.min(a, b)));
    const hi = Math.max(lo + 1, Math.ceil(Math.max(a, b)));
    st.win = lo <= full.from && hi >= full.to ? undefined : { from: lo, to: hi };
    void ctx.reload();
  };
  const button = (id, label, title, onclick, disabled = false) => {
    const b = h("button", { id, type: "button", title, disabled }, label);
    b.addEventListener("click", onclick);
    return b;
  };
  const span = to - from;
  const okCount = tracks.reduce((a, t) => a + t.bars.filter((b) => b[4] === 1).length, 0);
  const barCount = tracks.reduce((a, t) => a + t.bars.length, 0);
  put(
    mount,
    h(
      "div",
      { class: "toolbar" },
      button("zoom-in", "Zoom in", "show the middle half", () => zoomTo(from + span / 4, to - span / 4), span <= 2),
      button("zoom-out", "Zoom out", "show twice as much", () => zoomTo(from - span / 2, to + span / 2), !st.win),
      button("pan-left", "←", "earlier", () => zoomTo(from - span / 2, to - span / 2), !st.win || from <= full.from),
      button("pan-right", "→", "later", () => zoomTo(from + span / 2, to + span / 2), !st.win || to >= full.to),
      button("zoom-reset", "Whole run", "show the whole run", () => zoomTo(full.from, full.to), !st.win),
      h(
        "span",
        { class: "range" },
        `${fmtTime(from)} – ${fmtTime(to)} (${fmtDuration(span)}) · ${fmtCount(barCount)} tries on ${fmtCount(tracks.length)} workers`,
      ),
    ),
    h(
      "div",
      { class: "legend" },
      h("span", { class: "swatch ok" }),
      `ok ${fmtCount(okCount)}`,
      h("span", { class: "swatch failed" }),
      `failed ${fmtCount(barCount - okCount)}`,
      h("span", { class: "hint" }, "drag across the chart to zoom; click a bar to open its task"),
    ),
    tl.truncated ? note("More tries overlap this window than are drawn: zoom in to see every one.") : null,
    tracks.length === 0 ? note("No try has ended in this window yet.") : null,
    h("div", { class: "timeline" }, labels, box),
  );

  const base = ctx.run.began;
  let x = linear(from, to, 0, 1);
  const draw = () => {
    const width = Math.max(320, box.clientWidth);
    const height = tracks.reduce((a, t) => a + t.height, 0) + AXIS_H;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    x = linear(from, to, 0, width);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = BACKGROUND;
    g.fillRect(0, 0, width, height);
    const plotH = height - AXIS_H;
    const { ticks, label } = timeTicks(from, to, base, Math.max(2, Math.floor(width / 110)));
    g.fillStyle = GRID;
    for (const t of ticks) g.fillRect(Math.round(x(t)), 0, 1, plotH);
    let top = 0;
    for (const t of tracks) {
      for (const b of t.bars) {
        const x0 = Math.max(0, Math.round(x(b[2])));
        const x1 = Math.min(width, Math.round(x(b[3])));
        g.fillStyle = b[4] === 1 ? OK : FAILED;
        // a pixel of gap at the end tells back-to-back tries apart
        g.fillRect(x0, top + TRACK_PAD + b.lane * (LANE_H + LANE_GAP), Math.max(2, x1 - x0 - 1), LANE_H);
      }
      top += t.height;
      g.fillStyle = GRID;
      g.fillRect(0, top - 1, width, 1);
    }
    g.fillStyle = TEXT;
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "top";
    for (const t of ticks) {
      const px = Math.round(x(t));
      g.fillRect(px, plotH, 1, 4);
      const text = label(t);
      const w = g.measureText(text).width;
      g.fillText(text, Math.min(Math.max(0, px - w / 2), width - w), plotH + 7);
    }
  };
  draw();

  const barAt = (px, py) => {
    let top = 0;
    for (const t of tracks) {
      if (py >= top && py < top + t.height) {
        const lane = Math.floor((py - top - TRACK_PAD) / (LANE_H + LANE_GAP));
        const time = x.invert(px);
        const slack = x.invert(px + 3) - time;
        for (const b of t.bars) {
          if (b.lane === lane && b[2] - slack <= time && time <= b[3] + slack) return { bar: b, worker: t.worker };
        }
        return undefined;
      }
      top += t.height;
    }
    return undefined;
  };
  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  let drag;
  canvas.addEventListener("mousemove", (e) => {
    const [px, py] = local(e);
    if (drag) {
      sel.hidden = Math.abs(px - drag) < DRAG_MIN;
      sel.style.left = `${Math.min(px, drag)}px`;
      sel.style.width = `${Math.abs(px - drag)}px`;
      sel.style.height = `${canvas.clientHeight - AXIS_H}px`;
      tip.hidden = true;
      return;
    }
    const hit = barAt(px, py);
    canvas.style.cursor = hit ? "pointer" : "crosshair";
    if (!hit) {
      tip.hidden = true;
      return;
    }
    const [taskId, tryId, started, returned, ok] = hit.bar;
    tip.replaceChildren(
      h("strong", {}, `task ${taskId} · try ${tryId} · ${ok ? "ok" : "failed"}`),
      h("div", {}, hit.worker),
      h("div", {}, `started ${fmtTime(started)} (+${fmtDuration(started - base)})`),
      h("div", {}, `ran ${fmtDuration(returned - started)}`),
    );
    tip.hidden = false;
    tip.style.left = `${Math.min(px + 12, canvas.clientWidth - 220)}px`;
    tip.style.top = `${py + 14}px`;
  });
  canvas.addEventListener("mouseleave", () => (tip.hidden = true));
  canvas.addEventListener("mousedown", (e) => {
    if (e.button !== 0) return;
    drag = local(e)[0];
    ctx.hold(true);
    e.preventDefault();
  });
  const endDrag = (e) => {
    if (drag === undefined) return;
    const start = drag;
    drag = undefined;
    ctx.hold(false);
    sel.hidden = true;
    const [px, py] = local(e);
    if (Math.abs(px - start) >= DRAG_MIN) return zoomTo(x.invert(start), x.invert(px));
    const hit = barAt(px, py);
    if (hit) ctx.go(taskHref(ctx.runId, hit.bar[0]));
  };
  // window listeners of the previous drawing go; these go with the next one or the navigation
  st.listeners?.abort();
  st.listeners = new AbortController();
  const signal = AbortSignal.any([ctx.signal, st.listeners.signal]);
  // released outside the canvas still ends the drag
  window.addEventListener("mouseup", endDrag, { signal });
  window.addEventListener("resize", draw, { signal });
}

/** Gives each bar of a worker a lane, so overlapping tries do not hide each other. */
function placeLanes(w) {
  const ends = [];
  for (const b of w.bars) {
    let lane = ends.findIndex((end) => end <= b[2]);
    if (lane < 0) lane = ends.length < MAX_LANES ? ends.length : ends.indexOf(Math.min(...ends));
    ends[lane] = Math.max(ends[lane] ?? 0, b[3]);
    b.lane = lane;
  }
  const lanes = Math.max(1, ends.length);
  return { worker: w.worker, bars: w.bars, height: lanes * LANE_H + (lanes - 1) * LANE_GAP + 2 * TRACK_PAD };
}
