/**
 * The progress display of `taskloom run`: a one-line bar redrawn in place on
 * a terminal, a plain line every 10 s otherwise, and a summary at the end.
 * Rendering is pure ({@link renderProgress}, {@link renderSummary}); the
 * poller only copies the kernel's state counts every 200 ms.
 * @module
 */

/** Task counts grouped as the display shows them. */
export interface ProgressCounts {
  /** Finished well: `exec_done` and `memo_done`. */
  done: number;
  /** Finished badly: `failed`, `dep_fail` and `cancelled`. */
  failed: number;
  /** Handed to an executor or joining: `launched`, `running`, `joining`. */
  running: number;
  /** Waiting for dependencies or an executor: `unsched`, `pending`. */
  pending: number;
}

/** Groups a kernel's `taskStateCounts()` for display; unknown states count as pending. */
export function groupCounts(counts: Partial<Record<string, number>>): ProgressCounts {
  const out: ProgressCounts = { done: 0, failed: 0, running: 0, pending: 0 };
  for (const [state, n] of Object.entries(counts)) {
    if (n === undefined) continue;
    out[GROUP[state] ?? "pending"] += n;
  }
  return out;
}

const GROUP: Record<string, keyof ProgressCounts> = {
  exec_done: "done",
  memo_done: "done",
  failed: "failed",
  dep_fail: "failed",
  cancelled: "failed",
  launched: "running",
  running: "running",
  joining: "running",
  unsched: "pending",
  pending: "pending",
};

const num = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** `m:ss`, or `h:mm:ss` from an hour up. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function formatRate(perSecond: number): string {
  if (perSecond >= 10) return `${num.format(perSecond)} tasks/s`;
  return `${perSecond.toFixed(1)} tasks/s`;
}

/** Finished tasks per second since the start, and the time left at that rate (`undefined` if unknown). */
export function rateAndEta(c: ProgressCounts, elapsedMs: number): { rate: number; etaMs: number | undefined } {
  const finished = c.done + c.failed;
  const rate = elapsedMs > 0 ? (finished * 1000) / elapsedMs : 0;
  const left = c.running + c.pending;
  if (left === 0) return { rate, etaMs: 0 };
  return { rate, etaMs: rate > 0 ? (left / rate) * 1000 : undefined };
}

/**
 * One progress line, at most `columns - 1` characters (a full-width line
 * would wrap on some terminals and break the in-place redraw). Segments are
 * dropped from the right, then the bar shrinks, as the width narrows.
 *
 * @param bar draw the `[=====>    ]` bar (terminal) or not (plain lines).
 * @example
 * ```ts
 * renderProgress({ done: 512, failed: 3, running: 8, pending: 477 }, 425_000, { columns: 120 });
 * // "[=====>    ] 512/1000 done · 3 failed · 8 running · 477 pending · 1.2 tasks/s · ETA 6:51"
 * ```
 */
export function renderProgress(
  c: ProgressCounts,
  elapsedMs: number,
  opts: { columns?: number; bar?: boolean } = {},
): string {
  const columns = opts.columns ?? 80;
  const total = c.done + c.failed + c.running + c.pending;
  const { rate, etaMs } = rateAndEta(c, elapsedMs);
  const parts = [
    `${num.format(c.done)}/${num.format(total)} done`,
    `${num.format(c.failed)} failed`,
    `${num.format(c.running)} running`,
    `${num.format(c.pending)} pending`,
    formatRate(rate),
    `ETA ${etaMs === undefined ? "--:--" : formatDuration(etaMs)}`,
  ];
  const max = columns - 1;
  const text = (n: number) => parts.slice(0, n).join(" · ");
  let n = parts.length;
  // with a bar, keep at least 10 bar cells before dropping segments
  const reserve = opts.bar === false ? 0 : 13;
  while (n > 1 && text(n).length + reserve > max) n--;
  const body = text(n);
  if (opts.bar === false) return body.slice(0, max);
  const cells = Math.min(30, max - body.length - 3);
  if (cells < 5) return body.slice(0, max);
  return `${drawBar(total === 0 ? 0 : (c.done + c.failed) / total, cells)} ${body}`;
}

function drawBar(fraction: number, cells: number): string {
  const filled = Math.min(cells, Math.floor(fraction * cells));
  const head = filled < cells && fraction > 0 ? ">" : "";
  return `[${"=".repeat(filled)}${head}${" ".repeat(cells - filled - head.length)}]`;
}

/**
 * The last line of a run: totals, wall time and rate.
 *
 * @example
 * ```ts
 * renderSummary({ done: 997, failed: 3, running: 0, pending: 0 }, 4200);
 * // "taskloom: 1,000 tasks in 0:04 · 997 done · 3 failed · 238 tasks/s"
 * ```
 */
export function renderSummary(c: ProgressCounts, elapsedMs: number): string {
  const total = c.done + c.failed + c.running + c.pending;
  const parts = [
    `taskloom: ${num.format(total)} tasks in ${formatDuration(elapsedMs)}`,
    `${num.format(c.done)} done`,
    `${num.format(c.failed)} failed`,
  ];
  if (c.running + c.pending > 0) parts.push(`${num.format(c.running + c.pending)} unfinished`);
  parts.push(formatRate(rateAndEta(c, elapsedMs).rate));
  return parts.join(" · ");
}

/** Where the counts come from: `undefined` until a kernel is loaded. */
export type CountsSource = () => Partial<Record<string, number>> | undefined;

/** What {@link startProgress} needs; injectable for tests. */
export interface ProgressOptions {
  source: CountsSource;
  /** Where the display goes (process.stderr). */
  stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Redraw in place (stderr is a terminal) or print plain lines. */
  tty: boolean;
  /** Poll period. @default 200 */
  pollMs?: number;
  /** Plain-line period when not a terminal. @default 10000 */
  plainEveryMs?: number;
  /** Streams whose writes should first clear the bar (stdout when it is the same terminal). */
  guard?: NodeJS.WriteStream[];
  now?: () => number;
}

/** A running display; `stop()` clears the bar and prints the summary (if a kernel was seen). */
export interface Progress {
  stop(): void;
}

const CLEAR = "\r\x1b[K";

/**
 * Starts polling `source` and drawing. The timer is unref'd: it never keeps
 * the process alive.
 *
 * @example
 * ```ts
 * const p = startProgress({ source: () => currentKernel()?.taskStateCounts(), stream: process.stderr, tty: true });
 * await runScript();
 * p.stop();
 * ```
 */
export function startProgress(o: ProgressOptions): Progress {
  const now = o.now ?? Date.now;
  const pollMs = o.pollMs ?? 200;
  const plainEvery = o.plainEveryMs ?? 10_000;
  let started: number | undefined;
  let last: ProgressCounts | undefined;
  let lastPlain = 0;
  let shown = false;
  let stopped = false;
  const out = o.stream;
  const write = (text: string): boolean => out.write(text);

  // Output of the script would land after the bar on the same line: clear it first, redraw on the next tick.
  const restores: (() => void)[] = [];
  if (o.tty) {
    for (const s of new Set([out, ...(o.guard ?? [])])) {
      const own = Object.getOwnPropertyDescriptor(s, "write");
      const orig = s.write.bind(s) as (...args: unknown[]) => boolean;
      const guarded = (...args: unknown[]): boolean => {
        if (shown) {
          shown = false;
          orig(CLEAR);
        }
        return orig(...args);
      };
      Object.defineProperty(s, "write", { value: guarded, configurable: true, writable: true });
      restores.push(() => {
        if (own !== undefined) Object.defineProperty(s, "write", own);
        else delete (s as { write?: unknown }).write;
      });
    }
  }

  const sample = (): boolean => {
    const counts = o.source();
    if (counts === undefined) return false;
    started ??= now();
    last = groupCounts(counts);
    return true;
  };

  const tick = () => {
    if (!sample() || last === undefined || started === undefined) return;
    const elapsed = now() - started;
    if (o.tty) {
      // a pseudo-terminal with no size set reports 0 columns
      const columns = o.stream.columns || Number(process.env.COLUMNS) || 80;
      const line = renderProgress(last, elapsed, { columns });
      shown = false; // our own write must not trigger the guard's clear
      write(CLEAR + line);
      shown = true;
    } else if (elapsed - lastPlain >= plainEvery) {
      lastPlain = elapsed;
      write(
        `taskloom: ${renderProgress(last, elapsed, { bar: false, columns: 200 })} (${formatDuration(elapsed)} elapsed)\n`,
      );
    }
  };
  const timer = setInterval(tick, pollMs);
  timer.unref();

  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    process.off("exit", stop);
    for (const r of restores) r();
    sample();
    if (shown) write(CLEAR);
    shown = false;
    if (last !== undefined && started !== undefined) write(`${renderSummary(last, now() - started)}\n`);
  };
  // a script that calls process.exit() still gets the line cleared and its summary (stderr writes are synchronous)
  process.once("exit", stop);
  return { stop };
}
