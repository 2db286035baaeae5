/**
 * The run log: JSON lines in `runinfo/NNN/taskloom.log`. Writes are buffered
 * and flushed in the background, so logging costs little; below its level a
 * call costs one comparison (check `debugEnabled` before building a message).
 * @module
 */
import * as fs from "node:fs";

/** Log levels, most verbose first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger. */
export interface Logger {
  readonly level: LogLevel | "off";
  /** True when debug records are written: guard per-task logging with it. */
  readonly debugEnabled: boolean;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** Writes out what is buffered. */
  flush(): void;
  close(): void;
}

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 200;

/** A logger that writes nothing. */
export const nullLogger: Logger = {
  level: "off",
  debugEnabled: false,
  debug() {},
  info() {},
  warn() {},
  error() {},
  flush() {},
  close() {},
};

/** Opens a JSON-lines log file at `path` (appending). */
export function fileLogger(path: string, level: LogLevel): Logger {
  const fd = fs.openSync(path, "a");
  const min = RANK[level];
  let buf = "";
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buf.length === 0 || closed) return;
    const out = buf;
    buf = "";
    fs.writeSync(fd, out);
  };
  const onExit = (): void => flush();
  process.on("exit", onExit);
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (closed || RANK[lvl] < min) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg };
    if (fields) Object.assign(rec, fields);
    buf += safeJSON(rec) + "\n";
    if (buf.length >= FLUSH_BYTES) flush();
    else timer ??= setTimeout(flush, FLUSH_MS).unref();
  };
  return {
    level,
    debugEnabled: min <= RANK.debug,
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    flush,
    close() {
      flush();
      closed = true;
      process.off("exit", onExit);
      fs.closeSync(fd);
    },
  };
}

function safeJSON(rec: Record<string, unknown>): string {
  try {
    return JSON.stringify(rec, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return JSON.stringify({ time: rec.time, level: rec.level, msg: rec.msg, note: "fields not serialisable" });
  }
}
