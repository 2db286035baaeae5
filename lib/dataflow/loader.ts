/**
 * `load()` and `dfk()`: one kernel per process at a time, as Parsl.
 * @module
 */
import * as os from "node:os";
import * as path from "node:path";
import type { Executor } from "../../executors/executor.js";
import { ThreadPoolExecutor } from "../../executors/threads/executor.js";
import type { Config } from "../config.js";
import { validateConfig } from "../config-validate.js";
import { ConfigError, DependencyError, NoKernelError, TaskCancelledError } from "../errors.js";
import { fileLogger, nullLogger, type Logger } from "../logging.js";
import { callerModuleUrl } from "../registry.js";
import { isWorker, markParked } from "../worker-context.js";
import { checkMonitoring, Monitor } from "../monitoring/monitor.js";
import { CheckpointWriter, getAllCheckpoints, loadCheckpoints, parsePeriod } from "./checkpoint.js";
import { currentKernel, setCurrentKernel } from "./current.js";
import { DataFlowKernel } from "./kernel.js";
import { MemoTable } from "./memo.js";
import { makeRunDir } from "./run-dir.js";

let loading = false;

/**
 * Starts a kernel with `config` (default: one ThreadPoolExecutor sized to the
 * machine's cores) and makes it the current one that apps submit to.
 *
 * Inside a worker, which imports the workflow's module to find its apps,
 * `load()` never settles, so the rest of a workflow script does not run there.
 *
 * @example
 * ```ts
 * const dfk = await load({ retries: 1 });
 * console.log(await add(1, 2));
 * await dfk.cleanup();
 * ```
 */
export async function load(config: Config = {}): Promise<DataFlowKernel> {
  if (isWorker()) {
    markParked(callerModuleUrl());
    return new Promise<never>(() => {});
  }
  if (currentKernel() !== undefined || loading) {
    throw new ConfigError("a DataFlowKernel is already loaded: call `await dfk().cleanup()` before loading another");
  }
  validateConfig(config);
  loading = true;
  try {
    return await start(config);
  } finally {
    loading = false;
  }
}

async function start(config: Config): Promise<DataFlowKernel> {
  const runDir = makeRunDir(path.resolve(config.runDir ?? "./runinfo"));
  const logging = config.initializeLogging ?? true;
  const logger: Logger =
    logging === false
      ? nullLogger
      : fileLogger(path.join(runDir, "taskloom.log"), logging === true ? "info" : logging.level);
  logger.info("taskloom starting", { runDir, pid: process.pid, node: process.version, host: os.hostname() });
  const executors: Executor[] = config.executors ?? [new ThreadPoolExecutor()];
  const memo = new MemoTable();
  const files =
    config.checkpointFiles ?? (config.checkpointMode ? getAllCheckpoints(config.runDir ?? "./runinfo") : []);
  if (files.length > 0) {
    const loaded = loadCheckpoints(files);
    memo.preload(loaded);
    logger.info("checkpoints loaded", { files: files.length, results: loaded.size });
  }
  const checkpoint = new CheckpointWriter({
    runDir,
    mode: config.checkpointMode,
    periodSeconds: config.checkpointPeriod === undefined ? undefined : parsePeriod(config.checkpointPeriod),
    logger,
  });
  const scaling = {
    strategy: config.strategy ?? "simple",
    strategyPeriod: config.strategyPeriod ?? 5,
    maxIdleTime: config.maxIdleTime ?? 120,
  } as const;
  const monitoring = checkMonitoring(config.monitoring);
  let monitor: Monitor | undefined;
  try {
    if (monitoring !== undefined) monitor = await Monitor.open(monitoring, runDir);
  } catch (e) {
    checkpoint.close();
    logger.close();
    throw e;
  }
  const kernel = new DataFlowKernel({ config, runDir, logger, executors, memo, checkpoint, monitor });
  const started: typeof executors = [];
  try {
    for (const ex of executors) {
      await ex.start({ runDir, logger, scaling, onResult: kernel.onResult, monitor: monitor?.forExecutor(ex.label) });
      started.push(ex);
    }
  } catch (e) {
    await Promise.allSettled(started.map((ex) => ex.shutdown(new ConfigError("load() failed"))));
    await monitor?.close(kernel.taskStateCounts());
    checkpoint.close();
    logger.close();
    throw e;
  }
  setCurrentKernel(kernel);
  const onSigint = (): void => {
    process.stderr.write("\ntaskloom: interrupted, cleaning up (press Ctrl-C again to exit at once)\n");
    process.exitCode = 130;
    process.once("SIGINT", () => process.exit(130));
    // The workflow's own awaits now fail with TaskCancelledError; that must not end the process before cleanup does.
    const swallow = (e: unknown): void => {
      if (!(e instanceof TaskCancelledError || e instanceof DependencyError)) process.stderr.write(`${String(e)}\n`);
    };
    process.on("uncaughtException", swallow);
    process.on("unhandledRejection", swallow);
    void kernel.cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSigint);
  kernel._atCleanup(() => {
    process.off("SIGINT", onSigint);
    if (currentKernel() === kernel) setCurrentKernel(undefined);
  });
  return kernel;
}

/**
 * The current kernel.
 * @throws NoKernelError when none is loaded.
 * @example
 * ```ts
 * await load();
 * console.log(dfk().runDir);
 * ```
 */
export function dfk(): DataFlowKernel {
  const k = currentKernel();
  if (k === undefined) throw new NoKernelError();
  return k as DataFlowKernel;
}
