/**
 * How a provider runs scheduler commands (`sbatch`, `squeue`, …): here, or
 * (issue 4's SSH runner) on a login node. Every command has a timeout; a
 * command that cannot start or does not finish in time is a ProviderError
 * naming it, never a hang.
 *
 * @example
 * ```ts
 * const r = await new LocalRunner().run(["squeue", "-h", "--me"], { timeoutMs: 10_000 });
 * if (r.code !== 0) console.error(r.stderr);
 * ```
 * @module
 */
import { spawn } from "node:child_process";
import { ProviderError } from "../lib/errors.js";

/** What a finished command gave. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of one command. */
export interface RunOptions {
  /** Milliseconds before the command is killed and the call rejects. */
  timeoutMs: number;
  /** Text written to its stdin (closed after). */
  stdin?: string;
  cwd?: string;
}

/** Runs commands for a provider. */
export interface CommandRunner {
  readonly label: string;
  /** Where job scripts and their outputs live on the side that runs the commands (unset: the local run dir). */
  readonly remoteDir?: string;
  /** Resolves with any exit code; rejects with ProviderError if it cannot start or times out. */
  run(argv: readonly string[], options: RunOptions): Promise<CommandResult>;
  /** Makes a local file available where commands run; returns its path there. */
  stage?(localPath: string): Promise<string>;
  /** Closes connections (at provider shutdown). */
  close?(): Promise<void>;
}

/** Shell-quotes one word for display (and for remote shells). */
export function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Runs commands on this machine. */
export class LocalRunner implements CommandRunner {
  readonly label = "local";

  run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    const shown = argv.map(quote).join(" ");
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), {
        cwd: options.cwd,
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.stdin.on("error", () => {});
      child.stdin.end(options.stdin ?? "");
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
        reject(new ProviderError(`\`${shown}\` did not finish within ${options.timeoutMs / 1000} s and was killed`));
      }, options.timeoutMs);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(new ProviderError(`cannot run \`${shown}\`: ${e.message}`));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? 128 + (signal === "SIGKILL" ? 9 : 15), stdout, stderr });
      });
    });
  }
}
