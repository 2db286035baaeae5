// How numbers, times and states read on the page.

/** Parsl's task states in the order a task goes through them. */
export const STATES = [
  "unsched",
  "pending",
  "launched",
  "running",
  "joining",
  "exec_done",
  "memo_done",
  "failed",
  "dep_fail",
  "cancelled",
];

/** Fill colours of states (chips use the same in style.css). */
export const STATE_COLORS = {
  unsched: "#bdbdbd",
  pending: "#90a4ae",
  launched: "#64b5f6",
  running: "#1e88e5",
  joining: "#8e24aa",
  exec_done: "#2e7d32",
  memo_done: "#00897b",
  failed: "#c62828",
  dep_fail: "#ef6c00",
  cancelled: "#616161",
};

export const stateColor = (s) => STATE_COLORS[s] ?? "#9e9e9e";

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Local date and time, `2025-01-01 12:00:00`. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(a < 10_000 ? 2 : 1)} s`;
  if (a < 3_600_000) return `${Math.floor(ms / 60_000)} min ${pad(Math.floor((ms % 60_000) / 1000))} s`;
  return `${Math.floor(ms / 3_600_000)} h ${pad(Math.floor((ms % 3_600_000) / 60_000))} min`;
}

/** Seconds after `base`, for axes: `+12.5 s`. */
export function fmtOffset(ms, base) {
  return `+${fmtDuration(ms - base)}`;
}

/** KiB as `512 KiB`, `12.3 MiB`, `1.20 GiB`. */
export function fmtKiB(kib) {
  if (kib === null || kib === undefined) return "—";
  if (kib < 1024) return `${Math.round(kib)} KiB`;
  if (kib < 1024 * 1024) return `${(kib / 1024).toFixed(1)} MiB`;
  return `${(kib / 1024 / 1024).toFixed(2)} GiB`;
}

/** `1,234`. */
export const fmtCount = (n) => Number(n).toLocaleString("en-US");

/** A run's duration: finished, or running for so long. */
export function runDuration(run, now = Date.now()) {
  return run.completed === null ? `running ${fmtDuration(now - run.began)}` : fmtDuration(run.completed - run.began);
}
