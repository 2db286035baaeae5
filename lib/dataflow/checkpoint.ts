/**
 * Checkpoints: successful results of `cache: true` apps, appended as JSON
 * lines (`{"hash", "value"}` with the value v8-serialized, base64) to
 * `runinfo/NNN/checkpoint/tasks.jsonl`. Append-only with one write per
 * record, so a crash loses at most the line being written, and a torn last
 * line is skipped when loading.
 *
 * @example
 * ```ts
 * await load({ checkpointMode: "task_exit", checkpointFiles: getLastCheckpoint() });
 * ```
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as v8 from "node:v8";
import type { CheckpointMode } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../logging.js";
import { numberedEntries } from "./run-dir.js";

const FILE = "tasks.jsonl";

/** Options of {@link CheckpointWriter}. */
export interface CheckpointOptions {
  runDir: string;
  mode: CheckpointMode | undefined;
  periodSeconds?: number | undefined;
  logger?: Pick<Logger, "info" | "warn">;
}

/** Writes checkpoint records as the mode says. */
export class CheckpointWriter {
  readonly #dir: string;
  readonly #mode: CheckpointMode | undefined;
  readonly #log: Pick<Logger, "info" | "warn"> | undefined;
  #fd: number | undefined;
  #buffer: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: CheckpointOptions) {
    this.#dir = path.join(o.runDir, "checkpoint");
    this.#mode = o.mode;
    this.#log = o.logger;
    if (o.mode === "periodic") {
      const ms = (o.periodSeconds ?? 1800) * 1000;
      this.#timer = setInterval(() => {
        const n = this.checkpoint();
        this.#log?.info(n > 0 ? `Done checkpointing ${n} tasks` : "No tasks checkpointed");
      }, ms).unref();
    }
  }

  /** Records a successful cached result. Never throws. */
  record(hash: string, value: unknown): void {
    if (this.#mode === undefined || this.#closed) return;
    let line: string;
    try {
      line = JSON.stringify({ hash, value: v8.serialize(value).toString("base64") }) + "\n";
    } catch (e) {
      this.#log?.warn("result not checkpointed: it cannot be serialized", { hash, error: String(e) });
      return;
    }
    if (this.#mode === "task_exit") this.#write(line);
    else this.#buffer.push(line);
  }

  /** Writes buffered records now; returns how many. The file exists afterwards even if none were. */
  checkpoint(): number {
    if (this.#mode === undefined) return 0;
    this.#open();
    const lines = this.#buffer;
    this.#buffer = [];
    for (const l of lines) this.#write(l);
    return lines.length;
  }

  /** Flushes what is buffered and closes the file. */
  close(): void {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#buffer.length > 0) this.checkpoint();
    this.#closed = true;
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  #open(): number {
    if (this.#fd === undefined) {
      fs.mkdirSync(this.#dir, { recursive: true });
      this.#fd = fs.openSync(path.join(this.#dir, FILE), "a");
    }
    return this.#fd;
  }

  // One write call per whole line: a crash leaves at most one torn line, at the end.
  #write(line: string): void {
    fs.writeSync(this.#open(), line);
  }
}

/** Seconds from a positive number or `"HH:MM:SS"`. */
export function parsePeriod(p: number | string): number {
  if (typeof p === "number" && Number.isFinite(p) && p > 0) return p;
  if (typeof p === "string") {
    const m = /^(\d+):([0-5]\d):([0-5]\d)$/.exec(p);
    if (m) {
      const s = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
      if (s > 0) return s;
    }
  }
  throw new ConfigError(
    `config.checkpointPeriod: expected a number of seconds > 0 or "HH:MM:SS", got ${JSON.stringify(p)} (${typeof p})`,
  );
}

/** The checkpoint file a path names: a `tasks.jsonl`, a `checkpoint` directory, or a run directory. */
function checkpointFile(p: string): string | undefined {
  const candidates = [p, path.join(p, FILE), path.join(p, "checkpoint", FILE)];
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
}

/** Results by hash from checkpoint files; later records win; torn or corrupt lines are skipped. */
export function loadCheckpoints(paths: readonly string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  paths.forEach((p, i) => {
    const file = checkpointFile(p);
    if (file === undefined) {
      throw new ConfigError(
        `config.checkpointFiles[${i}]: no checkpoint at ${JSON.stringify(p)}; expected a ${FILE} file, a checkpoint directory or a run directory`,
      );
    }
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      if (line === "") continue;
      try {
        const rec = JSON.parse(line) as { hash?: unknown; value?: unknown };
        if (typeof rec.hash !== "string" || typeof rec.value !== "string") continue;
        out.set(rec.hash, v8.deserialize(Buffer.from(rec.value, "base64")));
      } catch {
        // A line cut short by a crash: skip it, keep the rest.
      }
    }
  });
  return out;
}

/** Checkpoint directories of the numbered runs under `runDir` that have one, oldest first. */
export function getAllCheckpoints(runDir = "./runinfo"): string[] {
  return numberedEntries(runDir)
    .map((n) => path.resolve(runDir, n, "checkpoint"))
    .filter((d) => fs.existsSync(path.join(d, FILE)));
}

/** The checkpoint directory of the newest run under `runDir` that has one (`[]` if none). */
export function getLastCheckpoint(runDir = "./runinfo"): string[] {
  return getAllCheckpoints(runDir).slice(-1);
}
