/**
 * Reading what processes use from Linux's `/proc`: one process's CPU and
 * resident memory, and the sum over a process tree (a shell command and
 * everything it started). Synchronous on purpose: each read is a few
 * microseconds, and a sampler must not interleave with itself.
 *
 * Elsewhere than Linux there is no `/proc`: every function returns
 * `undefined`, and callers report what they can without it.
 *
 * @example
 * ```ts
 * const s = sampleTree(pgid);
 * if (s) console.log(`${s.processes} processes, ${s.rssKiB} KiB, ${s.userMs + s.systemMs} ms CPU`);
 * ```
 * @module
 */
import { openSync, readdirSync, readFileSync, readSync, writeSync } from "node:fs";

/** CPU and memory of one process (or the sum over a tree), as `/proc` reports them. */
export interface ProcUsage {
  /** Resident memory now, KiB. */
  rssKiB: number;
  /**
   * CPU in user and system mode, ms: the process's own plus that of the
   * children it has waited for (`cutime`/`cstime`). Clock-tick resolution (10 ms).
   */
  userMs: number;
  systemMs: number;
  /** Processes counted. */
  processes: number;
  /** Their pids. */
  pids: number[];
}

// The kernel reports times in USER_HZ, which is 100 on every architecture Node runs on.
const MS_PER_TICK = 10;
let pageKiB: number | undefined;

/** The page size in KiB, from the ratio of our own RSS in bytes and in pages. */
function pageSizeKiB(): number {
  if (pageKiB !== undefined) return pageKiB;
  try {
    const pages = Number(readFileSync("/proc/self/statm", "latin1").split(" ")[1]);
    const ratio = process.memoryUsage.rss() / 1024 / pages;
    // RSS moves a little between the two reads; page sizes are powers of two.
    pageKiB = 2 ** Math.round(Math.log2(ratio));
  } catch {
    pageKiB = 4;
  }
  return pageKiB;
}

/** Fields of `/proc/<pid>/stat` after the command name (which may hold spaces and parentheses). */
function statFields(path: string): string[] | undefined {
  let s: string;
  try {
    s = readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
  return s.slice(s.lastIndexOf(")") + 2).split(" ");
}

// Offsets in statFields(): field 3 (state) is at 0.
const PGRP = 2;
const UTIME = 11;
const STIME = 12;
const CUTIME = 13;
const CSTIME = 14;
const RSS = 21;

function addProcess(u: ProcUsage, pid: number, f: string[]): void {
  u.rssKiB += Number(f[RSS]) * pageSizeKiB();
  u.userMs += (Number(f[UTIME]) + Number(f[CUTIME])) * MS_PER_TICK;
  u.systemMs += (Number(f[STIME]) + Number(f[CSTIME])) * MS_PER_TICK;
  u.processes++;
  u.pids.push(pid);
}

function empty(): ProcUsage {
  return { rssKiB: 0, userMs: 0, systemMs: 0, processes: 0, pids: [] };
}

/** CPU and RSS of one process, or undefined if it is gone (or there is no `/proc`). */
export function sampleProcess(pid: number | "self" | "thread-self"): ProcUsage | undefined {
  const f = statFields(`/proc/${pid}/stat`);
  if (f === undefined) return undefined;
  const u = empty();
  addProcess(u, typeof pid === "number" ? pid : process.pid, f);
  return u;
}

let childrenFiles: boolean | undefined;

/**
 * Sums CPU and RSS over the tree rooted at `root`, found through
 * `/proc/<pid>/task/<tid>/children`; on kernels without those files,
 * over the processes of process group `root` instead. Undefined when
 * `root` is gone.
 */
export function sampleTree(root: number): ProcUsage | undefined {
  const rootStat = statFields(`/proc/${root}/stat`);
  if (rootStat === undefined) return undefined;
  childrenFiles ??= readable(`/proc/${root}/task/${root}/children`);
  if (!childrenFiles) return sampleGroup(root);
  const u = empty();
  addProcess(u, root, rootStat);
  const todo = children(root);
  const seen = new Set<number>([root]);
  while (todo.length > 0) {
    const pid = todo.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const f = statFields(`/proc/${pid}/stat`);
    // Gone between the two reads: it no longer uses anything.
    if (f === undefined) continue;
    addProcess(u, pid, f);
    todo.push(...children(pid));
  }
  return u;
}

function readable(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

// Children are listed per thread: a multithreaded parent may have started them from any of its threads.
function children(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    let s: string;
    try {
      s = readFileSync(`/proc/${pid}/task/${tid}/children`, "latin1");
    } catch {
      continue;
    }
    for (const c of s.split(" ")) if (c !== "" && c !== "\n") out.push(Number(c));
  }
  return out;
}

function sampleGroup(pgid: number): ProcUsage {
  const u = empty();
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return u;
  }
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const f = statFields(`/proc/${n}/stat`);
    if (f !== undefined && Number(f[PGRP]) === pgid) addProcess(u, Number(n), f);
  }
  return u;
}

// Files read or written once per measured task stay open: a positioned read of a /proc file regenerates it, and
// saves the open and close (most of the cost for a task that takes microseconds). Per thread, since module state is.
const fds = new Map<string, number | null>();
const buf = Buffer.alloc(1024);

function cachedFd(path: string, flags: "r" | "w"): number | null {
  let fd = fds.get(path);
  if (fd === undefined) {
    try {
      fd = openSync(path, flags);
    } catch {
      fd = null;
    }
    fds.set(path, fd);
  }
  return fd;
}

/**
 * Resets this process's peak RSS (the kernel's `VmHWM`, and what
 * `getrusage` reports as `maxrss`) to its current RSS, so that they then
 * tell the peak since now (Linux 4.0+). False if the kernel does not allow it.
 */
export function resetPeakRss(): boolean {
  const fd = cachedFd("/proc/self/clear_refs", "w");
  if (fd === null) return false;
  try {
    writeSync(fd, "5", 0);
    return true;
  } catch {
    return false;
  }
}

/** This process's RSS now, KiB (from `/proc/self/statm`); undefined without `/proc`. */
export function currentRssKiB(): number | undefined {
  const fd = cachedFd("/proc/self/statm", "r");
  if (fd === null) return undefined;
  const n = readSync(fd, buf, 0, buf.length, 0);
  return Number(buf.toString("latin1", 0, n).split(" ")[1]) * pageSizeKiB();
}

/** The calling thread's own CPU (ms, clock-tick resolution) and its process's RSS (KiB); undefined without `/proc`. */
export function threadUsage(): { userMs: number; systemMs: number; rssKiB: number } | undefined {
  const fd = cachedFd("/proc/thread-self/stat", "r");
  if (fd === null) return undefined;
  const n = readSync(fd, buf, 0, buf.length, 0);
  // Parsed in place: splitting the text costs more than reading it, on a path taken once per task.
  let i = buf.lastIndexOf(0x29, n - 1) + 2;
  let user = 0;
  let system = 0;
  let rss = 0;
  for (let field = 0; field <= RSS && i < n; field++) {
    let v = 0;
    for (; i < n && buf[i] !== 0x20; i++) v = v * 10 + (buf[i]! - 48);
    i++;
    if (field === UTIME) user = v;
    else if (field === STIME) system = v;
    else if (field === RSS) rss = v;
  }
  return { userMs: user * MS_PER_TICK, systemMs: system * MS_PER_TICK, rssKiB: rss * pageSizeKiB() };
}

/** Peak RSS (`VmHWM`) of `pid` (default: this process) in KiB, tracked by the kernel; undefined without `/proc`. */
export function peakRssKiB(pid: number | "self" = "self"): number | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/status`, "latin1");
  } catch {
    return undefined;
  }
  const i = s.indexOf("VmHWM:");
  if (i < 0) return undefined;
  return Number.parseInt(s.slice(i + 6).trimStart(), 10);
}
