// Scales and axes shared by the SVG plots and the timeline canvas.
import { s } from "../dom.js";

/** About `count` round tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo, hi, count = 6) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw) ?? 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** A linear map from [d0, d1] to [r0, r1] (a flat domain maps to r0). */
export function linear(d0, d1, r0, r1) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  const f = (v) => r0 + (v - d0) * k;
  f.invert = (p) => (k === 0 ? d0 : d0 + (p - r0) / k);
  return f;
}

/**
 * Axes, grid lines and labels of a plot into `svg`:
 * `box` = { left, top, width, height } of the plot area.
 */
export function drawAxes(svg, box, x, y, o) {
  const { left, top, width, height } = box;
  const g = s("g", { class: "axes" });
  for (const v of o.yTicks) {
    const py = Math.round(y(v)) + 0.5;
    g.append(
      s("line", { class: "grid", x1: left, x2: left + width, y1: py, y2: py }),
      s("text", { class: "tick", x: left - 6, y: py + 4, "text-anchor": "end" }, o.yFmt(v)),
    );
  }
  for (const v of o.xTicks) {
    const px = Math.round(x(v)) + 0.5;
    g.append(
      s("line", { class: "grid", x1: px, x2: px, y1: top, y2: top + height }),
      s("text", { class: "tick", x: px, y: top + height + 16, "text-anchor": "middle" }, o.xFmt(v)),
    );
  }
  g.append(
    s("line", { class: "axis", x1: left, x2: left + width, y1: top + height + 0.5, y2: top + height + 0.5 }),
    s("line", { class: "axis", x1: left - 0.5, x2: left - 0.5, y1: top, y2: top + height }),
    s("text", { class: "label", x: left + width / 2, y: top + height + 34, "text-anchor": "middle" }, o.xLabel),
    s(
      "text",
      {
        class: "label",
        x: -(top + height / 2),
        y: 14,
        transform: "rotate(-90)",
        "text-anchor": "middle",
      },
      o.yLabel,
    ),
  );
  svg.append(g);
}

/** Time axis labels: seconds (or minutes) after the run began, in steps that read well. */
export function timeTicks(from, to, base, count) {
  const span = to - from;
  const unit = span >= 10 * 60_000 ? 60_000 : span >= 5000 ? 1000 : 1;
  const ticks = niceTicks((from - base) / unit, (to - base) / unit, count).map((v) => base + v * unit);
  const label = (t) => {
    const v = (t - base) / unit;
    const txt = Number(v.toPrecision(6)).toString();
    return unit === 60_000 ? `${txt} min` : unit === 1000 ? `${txt} s` : `${txt} ms`;
  };
  return { ticks, label };
}

/** An empty plot of `width` × `height` px, described for screen readers. */
export function plotSvg(id, width, height, label) {
  return s("svg", { id, width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
}
