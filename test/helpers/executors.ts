// The executor configurations the behaviour suite runs against; later executors add an entry here.
import { ThreadPoolExecutor, type Executor } from "taskloom";

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
];
