/**
 * `taskloom trace [db] [--run RUN_ID]`: a run's tries as a Chrome / Perfetto
 * trace (the Trace Event Format) on stdout, one track per worker. Open it in
 * https://ui.perfetto.dev or chrome://tracing.
 * @module
 */
import { once } from "node:events";
import { ConfigError } from "../errors.js";
import {
  findStore,
  finishSpool,
  iterateTries,
  openStore,
  resolveRun,
  type RunRow,
  type StoreDb,
} from "../monitoring/read.js";

const TRACE_USAGE = "usage: taskloom trace [monitoring.db | run dir] [--run RUN_ID] > trace.json";

/** A bad command line (exit code 2). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What a store-reading command line (`trace`, `explain`, `monitor`) says. */
export interface StoreArgs {
  /** Each option's value, by name without the dashes (`run`, `port`, …). */
  options: Record<string, string>;
  /** The other arguments (the store, explain's task id). */
  positional: string[];
}

/**
 * Splits options that take a value (`--name VALUE` or `--name=VALUE`) from positional arguments.
 * `options` maps each allowed name to what its value is, for messages (`{ run: "RUN_ID" }`).
 * @throws UsageError for an unknown option, a missing value or too many arguments.
 */
export function parseStoreArgs(
  args: string[],
  maxPositional: number,
  options: Record<string, string> = { run: "RUN_ID" },
): StoreArgs {
  const out: StoreArgs = { options: {}, positional: [] };
  const allowed = Object.entries(options)
    .map(([k, v]) => `--${k} ${v}`)
    .join(", ");
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m !== null && Object.hasOwn(options, m[1]!)) {
      const v = m[2] ?? args[++i];
      if (v === undefined || v === "") throw new UsageError(`--${m[1]} needs a value (${options[m[1]!]})`);
      out.options[m[1]!] = v;
    } else if (a.startsWith("-") && a !== "-") {
      throw new UsageError(`unknown option ${a}; allowed: ${allowed}`);
    } else out.positional.push(a);
  }
  if (out.positional.length > maxPositional) {
    throw new UsageError(`too many arguments: ${out.positional.slice(maxPositional).join(" ")}`);
  }
  return out;
}

/** Where each try's slice goes: one process per executor, one thread per worker (more if its tries overlap). */
class Tracks {
  readonly #pids = new Map<string, number>();
  /** Per track key: the end time of each lane, and its tid. */
  readonly #lanes = new Map<string, { end: number; tid: number }[]>();
  #nextTid = 1;

  /** Places a slice; returns its pid/tid and the metadata events of any new process or track. */
  place(executor: string, key: string, start: number, end: number): { pid: number; tid: number; meta: object[] } {
    const meta: object[] = [];
    let pid = this.#pids.get(executor);
    if (pid === undefined) {
      pid = this.#pids.size + 1;
      this.#pids.set(executor, pid);
      meta.push({ ph: "M", name: "process_name", pid, tid: 0, args: { name: `executor ${executor}` } });
    }
    const laneKey = `${executor}\0${key}`;
    let lanes = this.#lanes.get(laneKey);
    if (lanes === undefined) this.#lanes.set(laneKey, (lanes = []));
    // kernel-side launch times include queueing, so one worker's tries may overlap: stack them in lanes
    let lane = lanes.find((l) => l.end <= start);
    if (lane === undefined) {
      lane = { end: end, tid: this.#nextTid++ };
      lanes.push(lane);
      const name = lanes.length === 1 ? key : `${key} (${lanes.length})`;
      meta.push(
        { ph: "M", name: "thread_name", pid, tid: lane.tid, args: { name } },
        { ph: "M", name: "thread_sort_index", pid, tid: lane.tid, args: { sort_index: lane.tid } },
      );
    }
    lane.end = end;
    return { pid, tid: lane.tid, meta };
  }
}

/**
 * Writes the trace of `run` to `out`, a chunk at a time (waiting for the
 * stream to drain), so a run of any size takes constant memory.
 * Times are µs since the run began.
 *
 * @example
 * ```ts
 * const db = openStore(findStore());
 * await writeTrace(db, resolveRun(db), process.stdout);
 * ```
 */
export async function writeTrace(db: StoreDb, run: RunRow, out: NodeJS.WritableStream): Promise<number> {
  const first = db.prepare(`SELECT MIN(task_try_time_launched) FROM try WHERE run_id = ?`).pluck().get(run.runId) as
    number | null;
  const base = Math.min(run.began, first ?? run.began);
  const us = (ms: number) => Math.round((ms - base) * 1000);
  const tracks = new Tracks();
  let chunk = `{"traceEvents":[\n`;
  let sep = "";
  let slices = 0;
  const push = (e: object) => {
    chunk += sep + JSON.stringify(e);
    sep = ",\n";
  };
  let failed: Error | undefined;
  const onError = (e: Error) => (failed = e);
  out.on("error", onError);
  const check = () => {
    if (failed !== undefined) throw failed;
  };
  const flush = async () => {
    check();
    const ok = out.write(chunk);
    chunk = "";
    if (!ok) await Promise.race([once(out, "drain"), once(out, "error")]);
    check();
  };
  try {
    for (const t of iterateTries(db, run.runId)) {
      const key = t.worker ?? (t.block !== null ? `block ${t.block}` : t.host !== null ? t.host : t.executor);
      // the slice is the try on its worker; the time it queued after launch is in its args
      const start = t.running ?? t.launched;
      const returned = Math.max(t.returned, start);
      const { pid, tid, meta } = tracks.place(t.executor, key, start, returned);
      for (const m of meta) push(m);
      const args: Record<string, unknown> = { task: t.taskId, try: t.tryId, ok: t.ok, executor: t.executor };
      if (t.host !== null) args.host = t.host;
      if (t.block !== null) args.block = t.block;
      if (t.worker !== null) args.worker = t.worker;
      if (t.running !== null) args.queued_ms = t.running - t.launched;
      if (t.wallMs !== null) Object.assign(args, { wall_ms: t.wallMs, cpu_ms: t.cpuMs, peak_rss_kib: t.peakRssKiB });
      if (!t.ok) args.error = `${t.errorName ?? "Error"}: ${t.errorMessage ?? ""}`;
      const e: Record<string, unknown> = {
        ph: "X",
        cat: t.ok ? "task" : "task,failed",
        name: t.app,
        pid,
        tid,
        ts: us(start),
        dur: us(returned) - us(start),
        args,
      };
      if (!t.ok) e.cname = "terrible";
      push(e);
      slices++;
      if (chunk.length >= 1 << 16) await flush();
    }
    chunk += `\n],"displayTimeUnit":"ms","otherData":${JSON.stringify({
      run_id: run.runId,
      workflow: run.name,
      rundir: run.runDir,
      time_began: new Date(run.began).toISOString(),
      tries: slices,
    })}}\n`;
    await flush();
  } finally {
    out.off("error", onError);
  }
  return slices;
}

/** The `trace` subcommand; returns the exit code. */
export async function traceCommand(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${TRACE_USAGE}\n`);
    return 0;
  }
  let db: StoreDb | undefined;
  try {
    const a = parseStoreArgs(args, 1);
    const file = findStore(a.positional[0]);
    for (const w of await finishSpool(file)) process.stderr.write(`taskloom trace: warning: ${w}\n`);
    db = openStore(file);
    const run = resolveRun(db, a.options.run);
    await writeTrace(db, run, process.stdout);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`taskloom trace: ${e.message}\n${TRACE_USAGE}\n`);
      return 2;
    }
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`taskloom trace: ${e.message}\n`);
    return 1;
  } finally {
    db?.close();
  }
}
