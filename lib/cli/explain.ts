/**
 * `taskloom explain <taskId> [db] [--run RUN_ID]`: why a task is where it is,
 * in plain lines, from the monitoring store (as HTCondor's
 * `condor_q -better-analyze`): what a waiting task waits for, down to the
 * first blocker; which resources no active node offers; each failed try's
 * error; which dependency failed first.
 * @module
 */
import { ConfigError } from "../errors.js";
import {
  finishSpool,
  findStore,
  getTask,
  nodesOf,
  openStore,
  resolveRun,
  statusesOf,
  triesOf,
  type NodeRow,
  type RunRow,
  type StoreDb,
  type TaskRow,
} from "../monitoring/read.js";
import { parseStoreArgs, UsageError } from "./trace.js";

const EXPLAIN_USAGE = "usage: taskloom explain <taskId> [monitoring.db | run dir] [--run RUN_ID]";

const DONE = new Set(["exec_done", "memo_done"]);
const BAD = new Set(["failed", "dep_fail", "cancelled"]);
const WAITING = new Set(["unsched", "pending"]);
/** How many dependencies of one task are listed, and how deep the chain is followed. */
const MAX_LISTED = 10;
const MAX_DEPTH = 12;

/** Stack frames of the worker machinery rather than the app. */
const INTERNAL_FRAME = /\(node:|node:internal|\/node_modules\/|\/dist\/executors\/(runtime|threads|htex)\//;

/** Shown on the line of a task waiting in an executor's queue for resources. */
const RESOURCE_UNITS: Record<string, string> = { memory: " MB", disk: " MB" };
/** The node column that offers each resource a task may ask for. */
const NODE_OFFERS: Partial<Record<string, keyof NodeRow>> = { cores: "cores", memory: "memoryMB" };

/** `850 ms`, `12.3 s`, `4.5 min`. */
function span(ms: number): string {
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (Math.abs(ms) < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

class Explainer {
  readonly #db: StoreDb;
  readonly #run: RunRow;
  readonly #tasks = new Map<number, TaskRow | undefined>();
  readonly #expanded = new Set<number>();
  #nodes: NodeRow[] | undefined;
  readonly lines: string[] = [];

  constructor(db: StoreDb, run: RunRow) {
    this.#db = db;
    this.#run = run;
  }

  task(id: number): TaskRow | undefined {
    if (!this.#tasks.has(id)) this.#tasks.set(id, getTask(this.#db, this.#run.runId, id));
    return this.#tasks.get(id);
  }

  #say(depth: number, text: string) {
    this.lines.push(`${"  ".repeat(depth)}${text}`);
  }

  #time(ms: number | null | undefined): string {
    if (ms === null || ms === undefined) return "(unknown time)";
    const when = new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
    return `${when} (${span(ms - this.#run.began)} into the run)`;
  }

  /** When the task entered its current state. */
  #since(t: TaskRow): number {
    const st = statusesOf(this.#db, this.#run.runId, t.taskId);
    for (let i = st.length - 1; i >= 0; i--) if (st[i]!.state === t.state) return st[i]!.at;
    return (BAD.has(t.state) || DONE.has(t.state) ? t.returned : null) ?? t.invoked;
  }

  #label(t: TaskRow): string {
    return `task ${t.taskId} (${t.app})`;
  }

  #headline(t: TaskRow): string {
    const word = DONE.has(t.state) || BAD.has(t.state) ? "at" : "since";
    return `${this.#label(t)}: ${t.state} ${word} ${this.#time(this.#since(t))}`;
  }

  explain(t: TaskRow) {
    this.#say(0, `${this.#headline(t)}, run ${this.#run.runId}`);
    this.#say(1, `submitted ${this.#time(t.invoked)}${t.executor !== null ? ` for executor ${t.executor}` : ""}`);
    if (WAITING.has(t.state)) this.#waiting(t, 1, 0);
    else if (t.state === "launched" || t.state === "running" || t.state === "joining") this.#active(t, 1);
    else if (t.state === "failed") this.#failed(t, 1);
    else if (t.state === "dep_fail") this.#depFail(t, 1);
    else if (DONE.has(t.state)) this.#done(t, 1);
    else if (t.state === "cancelled") this.#say(1, "it was cancelled (future.cancel() or the kernel's cleanup)");
    if (t.failCount > 0 && t.state !== "failed") this.#tries(t, 1, "earlier tries");
  }

  /** A task waiting for dependencies: lists the unfinished ones and follows each down to its blocker. */
  #waiting(t: TaskRow, depth: number, level: number) {
    const deps = [...new Set(t.depends)];
    const unfinished = deps.filter((d) => {
      const dt = this.task(d);
      return dt === undefined || !(DONE.has(dt.state) || BAD.has(dt.state));
    });
    if (unfinished.length === 0) {
      this.#say(
        depth,
        deps.length === 0
          ? "it has no dependencies: it waits for the kernel to hand it to an executor"
          : `all ${deps.length} dependencies are done: it waits for the kernel to hand it to an executor`,
      );
      this.#resources(t, depth);
      return;
    }
    this.#say(depth, `waits for ${unfinished.length} of ${deps.length} dependencies:`);
    for (const d of unfinished.slice(0, MAX_LISTED)) {
      const dt = this.task(d);
      if (dt === undefined) {
        this.#say(depth + 1, `task ${d}: not in the store (not submitted yet, or its record was not written)`);
        continue;
      }
      this.#say(depth + 1, this.#headline(dt));
      if (this.#expanded.has(d)) {
        this.#say(depth + 2, "(explained above)");
        continue;
      }
      this.#expanded.add(d);
      if (level + 1 >= MAX_DEPTH) this.#say(depth + 2, "… (chain continues; explain this task for more)");
      else if (WAITING.has(dt.state)) this.#waiting(dt, depth + 2, level + 1);
      else this.#active(dt, depth + 2);
    }
    if (unfinished.length > MAX_LISTED) this.#say(depth + 1, `… and ${unfinished.length - MAX_LISTED} more`);
  }

  /** A task an executor has: where it is, and what it asked for if nothing offers it. */
  #active(t: TaskRow, depth: number) {
    if (t.state === "launched") {
      this.#say(depth, `handed to executor ${t.executor ?? "?"}; no worker has started it yet`);
      this.#resources(t, depth);
    } else if (t.state === "joining") {
      this.#say(depth, "its join body ran; it waits for the futures that body returned");
    } else if (t.state === "running") this.#say(depth, `running on executor ${t.executor ?? "?"}`);
  }

  /** Compares what the task asked for with what the run's active nodes offer. */
  #resources(t: TaskRow, depth: number) {
    const asked = Object.entries(t.resources).filter(([, v]) => typeof v === "number" && v > 0);
    if (asked.length === 0) return;
    const text = asked.map(([k, v]) => `${k} ${v}${RESOURCE_UNITS[k] ?? ""}`).join(", ");
    this.#nodes ??= nodesOf(this.#db, this.#run.runId);
    const nodes = this.#nodes.filter((n) => t.executor === null || n.executor === t.executor);
    if (nodes.length === 0) {
      this.#say(depth, `asks ${text}; no nodes are recorded for this run, so it cannot be compared with any`);
      return;
    }
    const active = nodes.filter((n) => n.active);
    if (active.length === 0) {
      this.#say(depth, `asks ${text}; no node is active (${nodes.length} connected earlier and left)`);
      return;
    }
    let short = false;
    for (const [k, v] of asked) {
      const col = NODE_OFFERS[k];
      if (col === undefined) continue;
      const offers = active.map((n) => n[col] as number | null).filter((x): x is number => x !== null);
      if (offers.length === 0) continue;
      const best = Math.max(...offers);
      if (best < v) {
        short = true;
        const unit = RESOURCE_UNITS[k] ?? "";
        this.#say(depth, `asks ${k} ${v}${unit}; the largest active node offers ${best}${unit}`);
      }
    }
    if (short) return;
    const fits = active.filter((n) =>
      asked.every(([k, v]) => {
        const col = NODE_OFFERS[k];
        const offer = col === undefined ? null : (n[col] as number | null);
        return offer === null || offer >= v;
      }),
    );
    if (fits.length === 0) this.#say(depth, `asks ${text}; no single active node offers all of it`);
    else this.#say(depth, `asks ${text}; ${fits.length} of ${active.length} active nodes offer it`);
  }

  #tries(t: TaskRow, depth: number, title: string) {
    const tries = triesOf(this.#db, this.#run.runId, t.taskId);
    if (tries.length === 0) return false;
    this.#say(depth, `${title}:`);
    for (const y of tries) {
      const where = [y.host, y.worker !== null ? `worker ${y.worker}` : null, `executor ${y.executor}`]
        .concat(y.block !== null ? [`block ${y.block}`] : [])
        .filter((x) => x !== null)
        .join(", ");
      const took = span(y.returned - y.launched);
      const outcome = y.ok ? "ok" : `${y.errorName ?? "Error"}: ${y.errorMessage ?? ""}`;
      this.#say(depth + 1, `try ${y.tryId} (${where}; ${took}): ${outcome}`);
      if (!y.ok && y.errorStack) {
        // the stack's first line repeats name and message
        const all = y.errorStack.split("\n").filter((l) => /^\s*at /.test(l));
        // the worker's own frames (taskloom's runtime, thread pool, node internals) say nothing about the app
        const frames = all.filter((l) => !INTERNAL_FRAME.test(l));
        if (frames.length > 0) {
          this.#say(depth + 2, "remote stack:");
          for (const f of frames.slice(0, 12)) this.#say(depth + 3, f.trim());
          const hidden = all.length - Math.min(frames.length, 12);
          if (hidden > 0) this.#say(depth + 3, `… ${hidden} more frames (taskloom's and Node's own)`);
        }
      }
    }
    return true;
  }

  #failed(t: TaskRow, depth: number) {
    const tries = triesOf(this.#db, this.#run.runId, t.taskId).length;
    if (tries === 0) {
      this.#say(depth, "it failed before any try ran (e.g. its arguments could not be sent or hashed)");
      return;
    }
    this.#say(
      depth,
      `retries exhausted: ${tries} ${tries === 1 ? "try" : "tries"} failed, and the task will not run again`,
    );
    this.#tries(t, depth, "tries");
  }

  /** Which dependency failed first, followed down to the task whose own try failed. */
  #depFail(t: TaskRow, depth: number) {
    const bad = [...new Set(t.depends)]
      .map((d) => this.task(d))
      .filter((d): d is TaskRow => d !== undefined && BAD.has(d.state))
      .map((d) => ({ d, at: this.#since(d) }))
      .sort((a, b) => a.at - b.at);
    const first = bad[0];
    if (first === undefined) {
      this.#say(depth, "no failed dependency is in the store (its record may not have been written)");
      return;
    }
    const others = bad.length > 1 ? ` (${bad.length - 1} more failed later)` : "";
    this.#say(
      depth,
      `dependency ${this.#label(first.d)} failed first, ${first.d.state} at ${this.#time(first.at)}${others}`,
    );
    if (this.#expanded.has(first.d.taskId) || depth > MAX_DEPTH) return;
    this.#expanded.add(first.d.taskId);
    if (first.d.state === "dep_fail") this.#depFail(first.d, depth + 1);
    else if (first.d.state === "failed") this.#failed(first.d, depth + 1);
  }

  #done(t: TaskRow, depth: number) {
    if (t.state === "memo_done") {
      this.#say(depth, "its result came from the memo table or a checkpoint; it did not run");
      return;
    }
    const tries = triesOf(this.#db, this.#run.runId, t.taskId);
    const last = tries[tries.length - 1];
    if (last !== undefined) {
      const where = last.worker ?? last.host ?? `executor ${last.executor}`;
      this.#say(depth, `try ${last.tryId} ran on ${where} for ${span(last.returned - last.launched)}`);
    }
  }
}

/**
 * Explains one task of a run; `undefined` when the store has no such task.
 *
 * @example
 * ```ts
 * const db = openStore(findStore());
 * console.log(explainTask(db, resolveRun(db), 17)?.join("\n"));
 * // task 17 (simulate): pending since 2025-01-01 12:00:04.100 UTC (+4.1 s), run 1a2b-77
 * //   waits for 1 of 2 dependencies:
 * //     task 12 (prepare): launched since …
 * //       handed to executor htex; no worker has started it yet
 * //       asks memory 64000 MB; the largest active node offers 15000 MB
 * ```
 */
export function explainTask(db: StoreDb, run: RunRow, taskId: number): string[] | undefined {
  const x = new Explainer(db, run);
  const t = x.task(taskId);
  if (t === undefined) return undefined;
  x.explain(t);
  return x.lines;
}

/** The `explain` subcommand; exit code 0 (explained), 1 (no such task or store), 2 (usage). */
export async function explainCommand(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${EXPLAIN_USAGE}\n`);
    return 0;
  }
  let db: StoreDb | undefined;
  try {
    const a = parseStoreArgs(args, 2);
    const [idText, store] = a.positional;
    if (idText === undefined) throw new UsageError("expected a task id");
    if (!/^\d+$/.test(idText)) throw new UsageError(`the task id must be a whole number, not "${idText}"`);
    const file = findStore(store);
    for (const w of await finishSpool(file)) process.stderr.write(`taskloom explain: warning: ${w}\n`);
    db = openStore(file);
    const run = resolveRun(db, a.options.run);
    const lines = explainTask(db, run, Number(idText));
    if (lines === undefined) {
      const range = db
        .prepare(`SELECT MIN(task_id) AS lo, MAX(task_id) AS hi, COUNT(*) AS n FROM task WHERE run_id = ?`)
        .get(run.runId) as { lo: number | null; hi: number | null; n: number };
      const has = range.n === 0 ? "no tasks" : `${range.n} tasks, ids ${range.lo}–${range.hi}`;
      process.stderr.write(
        `taskloom explain: task ${idText} is not in run ${run.runId} of ${db.name} (it has ${has})\n`,
      );
      return 1;
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`taskloom explain: ${e.message}\n${EXPLAIN_USAGE}\n`);
      return 2;
    }
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`taskloom explain: ${e.message}\n`);
    return 1;
  } finally {
    db?.close();
  }
}
