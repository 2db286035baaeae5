/**
 * `taskloom run [--quiet] <script>`: runs a workflow script in this process,
 * with tsx's loader for TypeScript. A kernel the script leaves loaded is
 * waited for and cleaned up, so nothing is lost when a script forgets
 * `cleanup()`. While it runs, progress goes to stderr (see ./progress.ts).
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { currentKernel, type KernelLike } from "../dataflow/current.js";
import type { DataFlowKernel } from "../dataflow/kernel.js";
import { startProgress, type CountsSource } from "./progress.js";

const RUN_USAGE = "usage: taskloom run [--quiet] <script.ts|js> [args...]";

/** Runs the script named by the first non-option argument, passing it the rest as its argv. */
export async function runCommand(args: string[]): Promise<number> {
  let quiet = false;
  let i = 0;
  // options go before the script; everything after it belongs to the script
  for (; i < args.length && args[i]!.startsWith("-"); i++) {
    const a = args[i]!;
    if (a === "--quiet" || a === "-q") quiet = true;
    else if (a === "--") {
      i++;
      break;
    } else {
      process.stderr.write(`taskloom run: unknown option ${a}; allowed: --quiet (-q)\n${RUN_USAGE}\n`);
      return 2;
    }
  }
  const [script, ...rest] = args.slice(i);
  if (script === undefined) {
    process.stderr.write(`taskloom run: expected a script path, e.g. \`taskloom run flow.ts\`\n${RUN_USAGE}\n`);
    return 2;
  }
  const file = path.resolve(script);
  if (!fs.existsSync(file)) {
    process.stderr.write(`taskloom run: no such file: ${file}\n`);
    return 2;
  }
  const { register } = await import("tsx/esm/api");
  register();
  process.argv = [process.argv[0]!, file, ...rest];
  const progress = quiet
    ? undefined
    : startProgress({
        source: kernelCounts(),
        stream: process.stderr,
        tty: process.stderr.isTTY === true,
        guard: process.stdout.isTTY ? [process.stdout] : [],
      });
  try {
    await import(pathToFileURL(file).href);
    const k = currentKernel() as DataFlowKernel | undefined;
    if (k !== undefined) {
      await k.waitForCurrentTasks();
      await k.cleanup();
    }
  } finally {
    progress?.stop();
  }
  return 0;
}

/** Counts of the current kernel; remembers the last one so the summary survives its cleanup. */
function kernelCounts(): CountsSource {
  let seen: (KernelLike & { taskStateCounts?: () => Record<string, number> }) | undefined;
  return () => {
    const k: typeof seen = currentKernel();
    if (k !== undefined && typeof k.taskStateCounts === "function") seen = k;
    return seen?.taskStateCounts?.();
  };
}
