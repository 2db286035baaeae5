/**
 * `taskloom run <script>`: runs a workflow script in this process, with
 * tsx's loader for TypeScript. A kernel the script leaves loaded is waited
 * for and cleaned up, so nothing is lost when a script forgets `cleanup()`.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { currentKernel } from "../dataflow/current.js";
import type { DataFlowKernel } from "../dataflow/kernel.js";

/** Runs the script named by `args[0]`, passing it the rest as its argv. */
export async function runCommand(args: string[]): Promise<number> {
  const [script, ...rest] = args;
  if (script === undefined) {
    process.stderr.write("taskloom run: expected a script path, e.g. `taskloom run flow.ts`\n");
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
  await import(pathToFileURL(file).href);
  const k = currentKernel() as DataFlowKernel | undefined;
  if (k !== undefined) {
    await k.waitForCurrentTasks();
    await k.cleanup();
  }
  return 0;
}
