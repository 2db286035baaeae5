import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A fresh temporary directory, removed by the returned cleanup. */
export function tmpDir(prefix = "taskloom-"): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Polls `check` until it returns true or `ms` pass; for state that has no event to await. */
export async function until(check: () => boolean, ms = 5000, every = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, every));
  }
  return check();
}

/** Awaits a promise expected to reject and returns the error. */
export async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection, but the promise resolved");
}

/** True when `pid` has exited (gone, or a zombie nobody reaped: containers may have no init to reap). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** Pids whose parent is `pid` (from /proc), optionally only those whose command line contains `match`. */
export function childrenOf(pid: number, match?: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid || processGone(Number(name))) continue;
      if (match !== undefined && !fs.readFileSync(`/proc/${name}/cmdline`, "utf8").includes(match)) continue;
      out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}
