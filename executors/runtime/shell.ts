/**
 * Runs a shell app's command on a worker, the way Parsl's `bash_app` does:
 * `/bin/bash -c <command>`, optional stdout/stderr files, a walltime and an
 * `outputs` check after success.
 *
 * The command runs in its own process group (its pid is the group id), so a
 * walltime, a cancel or a shutdown can kill everything it started, including
 * background jobs, with one signal. With a {@link ShellWatch} the tree it
 * starts is sampled (see measure.ts) for its peak memory and CPU, and killed
 * when its memory passes the limit.
 *
 * @example
 * ```ts
 * const spec = { stdout: ["out.txt", "w"], stderr: undefined, outputs: ["out.txt"] } as const;
 * await runShell("hello", "echo hello", spec, 10, { onSpawn: (pid) => groups.add(pid) });
 * ```
 * @module
 */
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { inspect } from "node:util";
import {
  AppTimeoutError,
  ConfigError,
  MissingOutputsError,
  ResourceExceededError,
  ShellExitError,
} from "../../lib/errors.js";
import type { ShellSpec } from "../executor.js";
import { startCommand, type Started } from "./shell-server.js";
import { toMB, watchTree, type TreeWatch } from "./measure.js";

/** Callbacks around the child's lifetime. */
export interface ShellHooks {
  /**
   * Called right after the child starts, with its pid, which is also its
   * process group id: record it to {@link killProcessGroup} it on cancel.
   * If this throws, the group is killed and `runShell` rejects with the error.
   */
  onSpawn?(pid: number): void;
  /** Called once when the child has exited; only for a child `onSpawn` was called with. */
  onExit?(): void;
  /** Sample the command's process tree: to report what it used, or to enforce a memory limit. */
  watch?: ShellWatch;
}

/** What to do with the samples of a command's process tree. */
export interface ShellWatch {
  /** Named in a {@link ResourceExceededError}. */
  readonly taskId: number;
  /** MB (MiB): past it the command's process group is killed and `runShell` rejects with ResourceExceededError. */
  readonly memoryMB: number | undefined;
  /** Called once the command has exited (whatever the outcome) with what its tree used. */
  onMeasured?(used: ShellUsage): void;
}

/** What a command's process tree used. */
export interface ShellUsage {
  peakRssKiB: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** As bash's `wait` gave it: 128 + n when killed by signal n. */
  exitStatus: number;
}

const BASH = "/bin/bash";
// setTimeout overflows past this many ms and would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `command` with `/bin/bash -c` in the worker's cwd and environment,
 * stdin closed, and resolves to `0` when it exits 0.
 *
 * @param appName - shown in errors.
 * @param command - what the shell app's body returned; must be a string.
 * @param spec - stdout/stderr redirection and outputs to check; `undefined`
 *   (or an undefined stream) inherits the worker's own stdout/stderr.
 * @param walltime - seconds (fractions allowed), or `undefined` for no limit.
 * @param hooks - see {@link ShellHooks}.
 * @throws ConfigError - `command` is not a string, a stream spec or the
 *   walltime is invalid, or a stdout/stderr file cannot be opened.
 * @throws ShellExitError - non-zero exit, with bash's exit code (128 + signal
 *   number when killed by a signal); code 127 when bash itself cannot start.
 * @throws AppTimeoutError - the walltime passed; the whole group was killed.
 * @throws ResourceExceededError - the tree's memory passed `hooks.watch.memoryMB`; the whole group was killed.
 * @throws MissingOutputsError - exit 0 but some `spec.outputs` path is missing.
 */
export async function runShell(
  appName: string,
  command: unknown,
  spec: ShellSpec | undefined,
  walltime: number | undefined,
  hooks?: ShellHooks,
): Promise<number> {
  if (typeof command !== "string") {
    throw new ConfigError(
      `shell app ${appName} must return a command string, got ${describe(command)} (${typeName(command)})`,
    );
  }
  if (walltime !== undefined && !(typeof walltime === "number" && Number.isFinite(walltime) && walltime > 0)) {
    throw new ConfigError(
      `walltime of shell app ${appName} must be a positive number of seconds, got ${describe(walltime)}`,
    );
  }
  // Files are created (or truncated) and the command header written here, so errors name the file; the command
  // then appends to them.
  const streams = openStreams(spec, command);
  streams.close();
  let started: Started;
  try {
    started = await startCommand(command, {
      stdout: streams.stdoutPath && resolve(streams.stdoutPath),
      stderr: streams.shared ? undefined : streams.stderrPath && resolve(streams.stderrPath),
      stderrToStdout: streams.shared,
    });
  } catch (e) {
    if (e instanceof RangeError) throw new ConfigError(`shell app ${appName}: cannot run its command: ${e.message}`);
    const err = new ShellExitError(appName, 127, streams.stdoutPath, streams.stderrPath);
    err.message += `: cannot start ${BASH}: ${errorText(e)}`;
    err.cause = e;
    throw err;
  }
  return await supervise(appName, started, streams, spec, walltime, hooks);
}

/**
 * SIGKILLs the process group led by `pid` (as returned through
 * `onSpawn`). A group that is already gone is not an error.
 *
 * @throws RangeError - `pid` is not an integer > 1, since `kill(-1)` or
 *   `kill(-0)` would hit every process we may signal or our own group.
 */
export function killProcessGroup(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 1) throw new RangeError(`not a process group id: ${pid}`);
  try {
    process.kill(-pid, "SIGKILL");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

interface OpenStreams {
  /** stderr is the stdout file. */
  readonly shared: boolean;
  readonly stdoutFd: number | undefined;
  readonly stderrFd: number | undefined;
  readonly stdoutPath: string | undefined;
  readonly stderrPath: string | undefined;
  close(): void;
}

function openStreams(spec: ShellSpec | undefined, command: string): OpenStreams {
  const out = checkStream("stdout", spec?.stdout);
  const err = checkStream("stderr", spec?.stderr);
  const fds: number[] = [];
  const close = (): void => {
    for (const fd of fds.splice(0)) closeSync(fd);
  };
  try {
    const stdoutFd = out && openStream("stdout", out, fds);
    let stderrFd: number | undefined;
    const shared = err !== undefined && out !== undefined && resolve(err[0]) === resolve(out[0]);
    if (shared) {
      // One file for both (opened with stdout's mode): a shared descriptor keeps their writes from overwriting each other.
      stderrFd = stdoutFd;
    } else if (err) {
      stderrFd = openStream("stderr", err, fds);
    }
    if (stderrFd !== undefined && err) {
      // Parsl records the command in the stderr file so a failure log shows what ran.
      writeSync(stderrFd, `--> executable follows <--\n${command}\n--> end executable <--\n`);
    }
    return { shared, stdoutFd, stderrFd, stdoutPath: out?.[0], stderrPath: err?.[0], close };
  } catch (e) {
    close();
    throw e;
  }
}

type Stream = readonly [string, "a" | "w"];

// Specs arrive from another thread or host, so the type alone is no guarantee.
function checkStream(which: string, s: unknown): Stream | undefined {
  if (s === undefined) return undefined;
  if (Array.isArray(s) && s.length === 2 && typeof s[0] === "string" && s[0] !== "" && (s[1] === "a" || s[1] === "w")) {
    return [s[0], s[1]];
  }
  throw new ConfigError(`${which} must be [path, "a" | "w"], got ${describe(s)}`);
}

function openStream(which: string, [path, mode]: Stream, fds: number[]): number {
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    const fd = openSync(path, mode);
    fds.push(fd);
    return fd;
  } catch (e) {
    throw new ConfigError(`cannot open ${which} file ${path} (mode "${mode}"): ${errorText(e)}`);
  }
}

function supervise(
  appName: string,
  child: Started,
  streams: OpenStreams,
  spec: ShellSpec | undefined,
  walltime: number | undefined,
  hooks: ShellHooks | undefined,
): Promise<number> {
  const pid = child.pid;
  return new Promise<number>((resolvePromise, reject) => {
    let settled = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    let tree: TreeWatch | undefined;
    let overKiB: number | undefined;
    const watch = hooks?.watch;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      tree?.stop();
      fn();
    };

    child.exited.then(
      (status) => {
        if (tree !== undefined) report(watch!, tree, child, status);
        let hookError: unknown;
        let hookFailed = false;
        try {
          hooks?.onExit?.();
        } catch (e) {
          hookFailed = true;
          hookError = e;
        }
        settle(() => {
          if (hookFailed) {
            reject(asError(hookError));
          } else if (timedOut) {
            reject(new AppTimeoutError(walltime ?? 0));
          } else if (overKiB !== undefined) {
            reject(new ResourceExceededError(watch!.taskId, appName, "memory", watch!.memoryMB!, toMB(overKiB)));
          } else if (status !== 0) {
            reject(new ShellExitError(appName, status, streams.stdoutPath, streams.stderrPath));
          } else {
            const missing = (spec?.outputs ?? []).filter((p) => !existsSync(p));
            if (missing.length > 0) reject(new MissingOutputsError(missing));
            else resolvePromise(0);
          }
        });
      },
      (e: unknown) =>
        settle(() => {
          const err = new ShellExitError(appName, 127, streams.stdoutPath, streams.stderrPath);
          err.message += `: ${errorText(e)}`;
          reject(err);
        }),
    );

    try {
      hooks?.onSpawn?.(pid);
    } catch (e) {
      killProcessGroup(pid);
      settle(() => reject(asError(e)));
      return;
    }

    if (watch !== undefined) {
      const limitKiB = watch.memoryMB === undefined ? undefined : watch.memoryMB * 1024;
      tree = watchTree(pid, limitKiB, (used) => {
        overKiB = used;
        // Its exit then rejects, as for a walltime.
        try {
          killProcessGroup(pid);
        } catch (e) {
          settle(() => reject(asError(e)));
        }
      });
    }

    // Beyond ~24.8 days the limit is not enforced rather than firing at once.
    if (walltime !== undefined && walltime * 1000 <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        timedOut = true;
        // The whole group, so background jobs of the command die too; its exit then rejects.
        try {
          killProcessGroup(pid);
        } catch (e) {
          settle(() => reject(asError(e)));
        }
      }, walltime * 1000);
    }
  });
}

// CPU: bash's account of the subshell and all it waited for, unless a sample saw more (a killed tree's
// children are never waited for by it).
function report(watch: ShellWatch, tree: TreeWatch, child: Started, status: number): void {
  const seen = tree.stop();
  watch.onMeasured?.({
    peakRssKiB: seen.peakRssKiB,
    cpuUserMs: Math.max(child.cpu?.userMs ?? 0, seen.userMs),
    cpuSystemMs: Math.max(child.cpu?.systemMs ?? 0, seen.systemMs),
    exitStatus: status,
  });
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function describe(v: unknown): string {
  const s = inspect(v, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 80 });
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
