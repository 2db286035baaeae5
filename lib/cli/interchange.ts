/**
 * `taskloom interchange`: internal, started by HighThroughputExecutor.
 * Reads its config as one JSON line on stdin.
 * @module
 */
import * as readline from "node:readline";
import { runInterchange, type InterchangeConfig } from "../../executors/htex/interchange.js";

export async function interchangeCommand(): Promise<number> {
  const rl = readline.createInterface({ input: process.stdin });
  const line = await new Promise<string>((resolve) => rl.once("line", resolve));
  rl.close();
  await runInterchange(JSON.parse(line) as InterchangeConfig);
  return 0;
}
