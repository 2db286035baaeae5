// The DAG of a slice of task ids, as SVG: layers by dependency depth, nodes coloured by state.
import { api, taskHref } from "../api.js";
import { h, s, put } from "../dom.js";
import { fmtCount, stateColor, STATES } from "../format.js";
import { layoutDag } from "../charts/dag-layout.js";
import { note, stateChip } from "./common.js";

/** Task ids per slice (the server's largest). */
const SLICE = 2000;

export async function renderDag(mount, ctx) {
  const st = ctx.state;
  const params = st.from === undefined ? {} : { from: st.from, to: st.from + SLICE - 1 };
  const dag = await api(`runs/${encodeURIComponent(ctx.runId)}/dag`, params, ctx.signal);
  const compact = dag.nodes.length > 300;
  const geometry = compact
    ? { nodeW: 14, nodeH: 14, gapX: 4, gapY: 36, maxPerRow: 80 }
    : { nodeW: 56, nodeH: 24, gapX: 10, gapY: 44, maxPerRow: 24 };
  const { pos, width, height } = layoutDag(dag.nodes, dag.edges, geometry);
  const pad = 12;
  const svg = s("svg", {
    id: "dag",
    width: width + 2 * pad,
    height: height + 2 * pad,
    viewBox: `${-pad} ${-pad} ${width + 2 * pad} ${height + 2 * pad}`,
    role: "img",
    "aria-label": `task graph of tasks ${dag.from} to ${dag.to}`,
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "marker",
        { id: "arrow", viewBox: "0 0 8 8", refX: 8, refY: 4, markerWidth: 6, markerHeight: 6, orient: "auto" },
        s("path", { d: "M0,0 L8,4 L0,8 z", class: "arrow-head" }),
      ),
    ),
  );
  const edgeLayer = s("g", { class: "edges" });
  const nodeLayer = s("g", { class: "nodes" });
  const touching = new Map();
  const half = geometry.nodeH / 2;
  for (const [a, b] of dag.edges) {
    const p = pos.get(a);
    const q = pos.get(b);
    if (!p || !q) continue;
    const y1 = p.y + half;
    const y2 = q.y - half;
    const bend = Math.max(12, (y2 - y1) / 2);
    const path = s("path", {
      class: "dag-edge",
      d: `M${p.x},${y1} C${p.x},${y1 + bend} ${q.x},${y2 - bend} ${q.x},${y2}`,
      "marker-end": compact ? null : "url(#arrow)",
      dataset: { from: String(a), to: String(b) },
    });
    edgeLayer.append(path);
    for (const id of [a, b]) (touching.get(id) ?? touching.set(id, []).get(id)).push(path);
  }
  const counts = {};
  for (const n of dag.nodes) {
    counts[n.state] = (counts[n.state] ?? 0) + 1;
    const p = pos.get(n.taskId);
    const g = s(
      "g",
      {
        class: "dag-node",
        transform: `translate(${p.x - geometry.nodeW / 2},${p.y - half})`,
        tabindex: 0,
        role: "link",
        dataset: { taskId: String(n.taskId), state: n.state },
      },
      s("title", {}, `#${n.taskId} ${n.app} — ${n.state}`),
      s("rect", { width: geometry.nodeW, height: geometry.nodeH, rx: 4, fill: stateColor(n.state) }),
      compact ? null : s("text", { x: geometry.nodeW / 2, y: half + 4, "text-anchor": "middle" }, String(n.taskId)),
    );
    const open = () => ctx.go(taskHref(ctx.runId, n.taskId));
    g.addEventListener("click", open);
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter") open();
    });
    // show the task's edges while the pointer is on it
    g.addEventListener("mouseenter", () => touching.get(n.taskId)?.forEach((e) => e.classList.add("hl")));
    g.addEventListener("mouseleave", () => touching.get(n.taskId)?.forEach((e) => e.classList.remove("hl")));
    nodeLayer.append(g);
  }
  svg.append(edgeLayer, nodeLayer);

  const prev = h("button", { id: "dag-prev", type: "button", disabled: dag.from <= dag.minTaskId }, "← Previous tasks");
  const next = h("button", { id: "dag-next", type: "button", disabled: dag.to >= dag.maxTaskId }, "Next tasks →");
  prev.addEventListener("click", () => {
    st.from = Math.max(dag.minTaskId, dag.from - SLICE);
    void ctx.reload();
  });
  next.addEventListener("click", () => {
    st.from = dag.to + 1;
    void ctx.reload();
  });
  const scroller = h("div", { class: "scroll dag-box" }, svg);
  scroller.addEventListener("scroll", () => (st.scroll = [scroller.scrollLeft, scroller.scrollTop]));
  put(
    mount,
    h(
      "div",
      { class: "toolbar" },
      prev,
      h(
        "span",
        { class: "range" },
        `tasks ${fmtCount(dag.from)}–${fmtCount(Math.min(dag.to, dag.maxTaskId))} of ${fmtCount(dag.minTaskId)}–${fmtCount(dag.maxTaskId)} · `,
        `${fmtCount(dag.nodes.length)} nodes, ${fmtCount(dag.edges.length)} edges`,
      ),
      next,
    ),
    h(
      "div",
      { class: "legend" },
      STATES.filter((x) => counts[x]).map((x) => stateChip(x, `${x.replace("_", " ")} ${fmtCount(counts[x])}`)),
    ),
    dag.nodes.length === 0 ? note("No tasks in this slice.") : null,
    scroller,
    note("Layers run top to bottom by dependency depth within the slice; click a task to open it."),
  );
  // a refresh of a live run keeps the place the user scrolled to
  if (st.scroll) [scroller.scrollLeft, scroller.scrollTop] = st.scroll;
}
