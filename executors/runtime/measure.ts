/**
 * Measuring what one try uses on its worker (TaskVine's resource monitor),
 * and the memory limit of shell apps.
 *
 * How each number is got, and how far it can be trusted:
 *
 * | where | peak RSS | CPU |
 * |---|---|---|
 * | JS app, HTEX worker process | the kernel's high-water mark (`getrusage` maxrss / `VmHWM`), reset through `/proc/self/clear_refs` when the task starts: exact, even for a body that never yields; the worker's Node runtime (~50 MB) included | `getrusage` delta: exact (one task at a time per process) |
 * | JS app, thread pool | RSS of the whole workflow process at start and end (and every 50 ms while an async body awaits): shared with every other thread and the workflow itself, so an upper bound, not the task's own | the thread's own `utime`/`stime` (`/proc/thread-self/stat`; Node 20 has no `process.threadCpuUsage`), 10 ms resolution |
 * | shell app, either | sum of RSS over the command's process tree, sampled at start and every 50 ms: a spike shorter than that between two samples can be missed | the tree's: bash's `times` for the command's subshell and all it waited for; for a killed command, the last sample if larger |
 *
 * Wall time is the body's (from just before the app function is called to
 * its end, a shell command's exit included). Sampling runs only for tries that
 * are measured or have a memory limit.
 *
 * Memory limits (`resources.memory`, MB): a shell app's tree over its limit
 * is killed (its whole process group) and the try fails with
 * {@link ResourceExceededError}; a JS app on an HTEX worker is watched by
 * its manager, which kills the worker process. A JS app on the thread pool
 * shares its process with the workflow and cannot be stopped alone on
 * memory: its limit is **not enforced** there.
 *
 * @example
 * ```ts
 * const m = startMeter("process");
 * doWork();
 * const used = m.finish(); // { peakRssKiB, cpuUserMs, cpuSystemMs, wallMs, pid }
 * ```
 * @module
 */
import { performance } from "node:perf_hooks";
import type { ResourcesMeasured } from "../../lib/monitoring/events.js";
import { currentRssKiB, peakRssKiB, resetPeakRss, sampleTree, threadUsage, type ProcUsage } from "./proc-tree.js";

/** Milliseconds between two samples. */
export const SAMPLE_MS = 50;

/** A measurement of a JS app body in progress. */
export interface Meter {
  /** The body returned a promise: sample memory on a timer while it is pending (where samples are needed). */
  awaiting(): void;
  /** Ends it. */
  finish(): ResourcesMeasured;
}

/**
 * Starts measuring a JS app body: `"process"` when the task has the process
 * to itself (an HTEX worker), `"thread"` on a thread-pool thread.
 */
export function startMeter(scope: "process" | "thread"): Meter {
  return scope === "process" ? processMeter() : threadMeter();
}

// getrusage's maxrss is the larger of the kernel's peak (reset by resetPeakRss) and a per-process record that
// only grows when a thread exits; when the latter is above the RSS at the reset, the peak is read from /proc instead.
function processMeter(): Meter {
  const t0 = performance.now();
  const exact = resetPeakRss();
  const r0 = process.resourceUsage();
  const viaStatus = exact && r0.maxRSS > (currentRssKiB() ?? 0) + 1024;
  // Without a kernel peak, samples: at start, end, and while an async body lets the timer fire.
  const sampler = exact ? undefined : rssSampler();
  return {
    awaiting() {
      sampler?.tick();
    },
    finish() {
      const wallMs = performance.now() - t0;
      const r1 = process.resourceUsage();
      const peak = !exact ? sampler!.stop() : viaStatus ? (peakRssKiB() ?? r1.maxRSS) : r1.maxRSS;
      return measured(
        peak,
        (r1.userCPUTime - r0.userCPUTime) / 1000,
        (r1.systemCPUTime - r0.systemCPUTime) / 1000,
        wallMs,
      );
    },
  };
}

type ThreadReading = NonNullable<ReturnType<typeof threadUsage>>;
// The reading that ended the last measured task, while the thread has not yielded since: tasks of a batch run
// back to back, so it also starts the next one, and each costs one read.
let lastEnd: ThreadReading | undefined;
let forgetQueued = false;
const forget = (): void => {
  lastEnd = undefined;
  forgetQueued = false;
};

/** Something unmeasured ran on this thread: the next measured task reads its own start. */
export function breakMeterChain(): void {
  lastEnd = undefined;
}

function threadMeter(): Meter {
  const t0 = performance.now();
  const r0 = lastEnd ?? threadUsage();
  let sampler: { tick(): void; stop(): number } | undefined;
  return {
    awaiting() {
      (sampler ??= rssSampler()).tick();
    },
    finish() {
      const wallMs = performance.now() - t0;
      const r1 = threadUsage();
      lastEnd = r1;
      if (!forgetQueued) {
        forgetQueued = true;
        queueMicrotask(forget);
      }
      const peak = Math.max(r0?.rssKiB ?? 0, r1?.rssKiB ?? 0, sampler?.stop() ?? 0);
      const user = r0 && r1 ? r1.userMs - r0.userMs : 0;
      const system = r0 && r1 ? r1.systemMs - r0.systemMs : 0;
      return measured(peak, user, system, wallMs);
    },
  };
}

// Process RSS on a timer (which fires only while the body awaits), and at the end.
function rssSampler(): { tick(): void; stop(): number } {
  let peak = process.memoryUsage.rss();
  let timer: NodeJS.Timeout | undefined;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  return {
    tick() {
      if (timer !== undefined) return;
      timer = setInterval(sample, SAMPLE_MS);
      timer.unref();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      sample();
      return Math.round(peak / 1024);
    },
  };
}

function measured(peakRssKiB: number, cpuUserMs: number, cpuSystemMs: number, wallMs: number): ResourcesMeasured {
  return {
    peakRssKiB,
    cpuUserMs: round(cpuUserMs),
    cpuSystemMs: round(cpuSystemMs),
    wallMs: round(wallMs),
    pid: process.pid,
  };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** What a {@link TreeWatch} saw of a command's process tree. */
export interface TreeUsage {
  peakRssKiB: number;
  /** From the last sample (a lower bound: children not yet waited for when it was taken are missing). */
  userMs: number;
  systemMs: number;
}

/** Samples a shell command's process tree until stopped. */
export interface TreeWatch {
  /** Stops sampling and says what was seen. */
  stop(): TreeUsage;
  /** Pids seen in the last sample, the root first. */
  readonly pids: readonly number[];
}

/**
 * Samples the tree rooted at `root` now and every {@link SAMPLE_MS};
 * calls `onOver(usedKiB)` once, and stops, when its RSS passes `limitKiB`.
 */
export function watchTree(root: number, limitKiB: number | undefined, onOver: (usedKiB: number) => void): TreeWatch {
  const seen: TreeUsage = { peakRssKiB: 0, userMs: 0, systemMs: 0 };
  let pids: readonly number[] = [root];
  let timer: NodeJS.Timeout | undefined;
  const sample = (): void => {
    const u: ProcUsage | undefined = sampleTree(root);
    if (u === undefined) return;
    pids = u.pids;
    seen.peakRssKiB = Math.max(seen.peakRssKiB, u.rssKiB);
    seen.userMs = Math.max(seen.userMs, u.userMs);
    seen.systemMs = Math.max(seen.systemMs, u.systemMs);
    if (limitKiB !== undefined && u.rssKiB > limitKiB) {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      onOver(u.rssKiB);
    }
  };
  timer = setInterval(sample, SAMPLE_MS);
  timer.unref();
  sample();
  return {
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      return { ...seen };
    },
    get pids() {
      return pids;
    },
  };
}

/** Whole MB (MiB) of `kib`, rounded up, as limits and errors state them. */
export function toMB(kib: number): number {
  return Math.ceil(kib / 1024);
}
