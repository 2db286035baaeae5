// The executor configurations the behaviour suite runs against; later executors add an entry here.
import * as path from "node:path";
import {
  load,
  HighThroughputExecutor,
  LocalProvider,
  ThreadPoolExecutor,
  type Config,
  type DataFlowKernel,
  type Executor,
} from "taskloom";
import { tmpDir } from "./tmp.js";

export interface ExecutorCase {
  name: string;
  make(): Executor[];
  /** Can a running JS task be stopped (walltime, cancel)? */
  stopsRunningTasks: boolean;
}

export const executorCases: ExecutorCase[] = [
  {
    name: "ThreadPoolExecutor",
    make: () => [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
    stopsRunningTasks: true,
  },
  {
    name: "HighThroughputExecutor",
    make: () => [new HighThroughputExecutor({ label: "htex", provider: new LocalProvider(), maxWorkersPerNode: 2 })],
    stopsRunningTasks: true,
  },
];

/**
 * Loads a kernel on `ex` before the suite's tests and cleans it up after, with
 * a temporary run directory; read `.kernel` and `.dir` inside tests.
 */
export function kernelForSuite(
  ex: ExecutorCase,
  config: Config = {},
): { readonly kernel: DataFlowKernel; readonly dir: string } {
  const tmp = tmpDir();
  let kernel: DataFlowKernel | undefined;
  before(async () => {
    kernel = await load({
      executors: ex.make(),
      runDir: path.join(tmp.dir, "runinfo"),
      initializeLogging: false,
      ...config,
    });
  });
  after(async () => {
    await kernel?.cleanup();
    tmp.remove();
  });
  return {
    get kernel(): DataFlowKernel {
      if (kernel === undefined) throw new Error("the suite's kernel is not loaded yet");
      return kernel;
    },
    dir: tmp.dir,
  };
}
