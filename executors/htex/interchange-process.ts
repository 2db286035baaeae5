/**
 * Starting the interchange as a child process of the workflow: config on
 * stdin (kept open, so the interchange exits when the workflow does), its
 * addresses on the first stdout line, its log to a file in the run dir.
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as readline from "node:readline";
import { ProviderError } from "../../lib/errors.js";
import type { InterchangeConfig } from "./interchange.js";

/** The `taskloom` CLI entry, compiled. */
export const CLI = new URL("../../lib/cli/main.js", import.meta.url).pathname;

/** A running interchange. */
export interface InterchangeHandle {
  proc: ChildProcess;
  clientUrl: string;
  workerUrl: string;
}

/** Starts an interchange; rejects with the log's tail if it does not come up. */
export function startInterchange(
  cfg: InterchangeConfig,
  logFile: string,
  timeoutMs = 20_000,
): Promise<InterchangeHandle> {
  const log = fs.openSync(logFile, "a");
  const proc = spawn(process.execPath, [CLI, "interchange"], { stdio: ["pipe", "pipe", log] });
  fs.closeSync(log);
  proc.stdin!.write(JSON.stringify(cfg) + "\n");
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: proc.stdout! });
    const fail = (why: string): void => {
      clearTimeout(timer);
      lines.close();
      proc.kill("SIGKILL");
      const tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-10).join("\n");
      reject(new ProviderError(`the interchange did not start: ${why}${tail ? `\n${tail}` : ""}`));
    };
    const timer = setTimeout(() => fail(`no address after ${timeoutMs} ms`), timeoutMs);
    proc.once("exit", (code, signal) => fail(`it exited (${signal ?? `code ${code}`})`));
    proc.once("error", (e) => fail(e.message));
    lines.once("line", (line) => {
      clearTimeout(timer);
      proc.removeAllListeners("exit");
      lines.close();
      try {
        const { clientUrl, workerUrl } = JSON.parse(line) as { clientUrl: string; workerUrl: string };
        resolve({ proc, clientUrl, workerUrl });
      } catch {
        fail(`unexpected first line ${JSON.stringify(line)}`);
      }
    });
  });
}
