/**
 * Monitoring of one workflow run: the kernel records events in an
 * {@link EventLog}, whose batches a worker thread decodes and writes to the
 * store (SQLite at `<runDir>/monitoring.db`, or PostgreSQL), so the
 * workflow's thread never waits for the database.
 * @module
 */
import * as os from "node:os";
import * as path from "node:path";
import { describe } from "../app.js";
import { ConfigError } from "../errors.js";
import type { TaskState } from "../states.js";
import type { ExecutorMonitor } from "../../executors/executor.js";
import { EventLog } from "./event-log.js";
import { StoreWriter } from "./writer.js";
import type { WorkflowEvent } from "./events.js";

/** The `monitoring` option of the config (or `true` for all defaults). */
export interface MonitoringOptions {
  /** SQLite file. @default `<runDir>/monitoring.db` */
  path?: string;
  /** A PostgreSQL connection URL instead of the SQLite file (several workflows may share one database). */
  postgres?: string;
  /**
   * Measure each try's peak memory, CPU and wall time on its worker. Costs a few microseconds a task (reading
   * `/proc`), which is most of a no-op task's cost on the thread pool, so it is opt-in. @default false
   */
  resources?: boolean;
  /** The workflow's name in the store. @default the main script's file name */
  workflowName?: string;
  /**
   * Longest time an event waits before it is handed to the store's thread, ms. (While a workflow hands over more
   * than about 10,000 tasks a second, that thread appends batches to a spool file beside a SQLite store instead of
   * writing rows, so as not to take the cores the workflow is using, and writes them once the pace drops or at
   * `cleanup()`; PostgreSQL has no spool, and batches wait in memory for up to 5 s.) @default 100
   */
  flushIntervalMs?: number;
}

const KEYS = ["path", "postgres", "resources", "workflowName", "flushIntervalMs"];

/** Validates the `monitoring` config field; undefined when monitoring is off. */
export function checkMonitoring(v: unknown): MonitoringOptions | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError(`config.monitoring: expected true, false or { ${KEYS.join(", ")} }, got ${describe(v)}`);
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KEYS.includes(k)) throw new ConfigError(`config.monitoring.${k}: unknown option; allowed: ${KEYS.join(", ")}`);
  }
  for (const k of ["path", "postgres", "workflowName"]) {
    if (o[k] !== undefined && !(typeof o[k] === "string" && o[k] !== "")) {
      throw new ConfigError(`config.monitoring.${k}: expected a non-empty string, got ${describe(o[k])}`);
    }
  }
  if (o.path !== undefined && o.postgres !== undefined) {
    throw new ConfigError("config.monitoring: give path (SQLite) or postgres, not both");
  }
  if (o.postgres !== undefined && !/^postgres(ql)?:\/\//.test(o.postgres as string)) {
    throw new ConfigError(`config.monitoring.postgres: expected a postgres:// URL, got ${describe(o.postgres)}`);
  }
  if (o.resources !== undefined && typeof o.resources !== "boolean") {
    throw new ConfigError(`config.monitoring.resources: expected true or false, got ${describe(o.resources)}`);
  }
  const f = o.flushIntervalMs;
  if (f !== undefined && !(typeof f === "number" && f > 0 && Number.isFinite(f))) {
    throw new ConfigError(`config.monitoring.flushIntervalMs: expected a number of ms > 0, got ${describe(f)}`);
  }
  return o;
}

/** A run's monitor: its event log and the thread that stores it. */
export class Monitor {
  readonly events: EventLog;
  readonly measure: boolean;
  readonly run: string;
  readonly #writer: StoreWriter;
  readonly #workflow: WorkflowEvent;
  #closed: Promise<void> | undefined;

  private constructor(writer: StoreWriter, run: string, workflow: WorkflowEvent, o: MonitoringOptions) {
    this.#writer = writer;
    this.run = run;
    this.#workflow = workflow;
    this.measure = o.resources ?? false;
    this.events = new EventLog(run, o.flushIntervalMs ?? 100, (b) => writer.postEncoded(b));
    // A workflow that exits without cleanup still hands over what it has (the thread may finish writing it).
    process.once("exit", this.#onExit);
  }

  readonly #onExit = (): void => this.events.flush();

  /** Starts the store's thread and the run's record; rejects with ConfigError if the store cannot be opened. */
  static async open(o: MonitoringOptions, runDir: string): Promise<Monitor> {
    const run = `${path.basename(runDir)}-${Date.now().toString(36)}-${process.pid}`;
    const target =
      o.postgres !== undefined ? { postgres: o.postgres } : { sqlite: o.path ?? path.join(runDir, "monitoring.db") };
    const writer = new StoreWriter(target);
    try {
      await writer.ready();
    } catch (e) {
      await writer.close().catch(() => undefined);
      throw e instanceof ConfigError
        ? e
        : new ConfigError(`monitoring store: ${e instanceof Error ? e.message : String(e)}`);
    }
    const script = process.argv[1];
    const workflow: WorkflowEvent = {
      t: "workflow",
      run,
      name: o.workflowName ?? (script ? path.basename(script) : "workflow"),
      runDir,
      host: os.hostname(),
      user: os.userInfo().username,
      began: Date.now(),
    };
    const m = new Monitor(writer, run, workflow, o);
    m.events.other(workflow);
    return m;
  }

  /** Where an executor's block and node events go. */
  forExecutor(label: string): ExecutorMonitor {
    const run = this.run;
    const ev = this.events;
    return {
      block: (block, job, state) =>
        ev.other({
          t: "block",
          run,
          executor: label,
          block,
          state,
          at: Date.now(),
          ...(job !== undefined ? { job } : {}),
        }),
      node: (n) => ev.other({ t: "node", run, executor: label, ...n, at: Date.now() }),
    };
  }

  /** Records the run's end, hands over every event and waits until the store has committed them. */
  close(counts: Record<TaskState, number>, log?: (message: string) => void): Promise<void> {
    this.#closed ??= (async () => {
      this.events.other({
        ...this.#workflow,
        completed: Date.now(),
        tasksCompleted: counts.exec_done + counts.memo_done,
        tasksFailed: counts.failed + counts.dep_fail,
      });
      this.events.flush();
      process.off("exit", this.#onExit);
      await this.#writer.close().catch((e: unknown) => log?.(e instanceof Error ? e.message : String(e)));
    })();
    return this.#closed;
  }
}
