/**
 * Up-front checks of a {@link Config}: every error names the field path, the
 * value given (with its type) and what is allowed.
 * @module
 */
import { checkMonitoring } from "./monitoring/monitor.js";
import { describe } from "./app.js";
import { ConfigError } from "./errors.js";
import { parsePeriod } from "./dataflow/checkpoint.js";

const CHECKS: Record<string, (v: unknown) => string | undefined> = {
  executors: (v) =>
    Array.isArray(v) && v.length > 0 ? undefined : "a non-empty array of executors (e.g. [new ThreadPoolExecutor()])",
  retries: (v) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : "an integer >= 0"),
  retryHandler: (v) => (typeof v === "function" ? undefined : "a function (error, info) => cost"),
  appCache: (v) => (typeof v === "boolean" ? undefined : "a boolean"),
  checkpointMode: oneOf("task_exit", "periodic", "dfk_exit", "manual"),
  checkpointFiles: (v) =>
    Array.isArray(v) && v.every((x) => typeof x === "string") ? undefined : "an array of paths (strings)",
  checkpointPeriod: (v) => {
    try {
      parsePeriod(v as number | string);
      return undefined;
    } catch {
      return 'a number of seconds > 0 or "HH:MM:SS"';
    }
  },
  strategy: oneOf("none", "simple", "htex_auto_scale"),
  strategyPeriod: (v) => (typeof v === "number" && v > 0 && Number.isFinite(v) ? undefined : "a number of seconds > 0"),
  maxIdleTime: (v) => (typeof v === "number" && v >= 0 && Number.isFinite(v) ? undefined : "a number of seconds >= 0"),
  monitoring: (v) => {
    checkMonitoring(v); // throws its own ConfigError naming the sub-option
    return undefined;
  },
  runDir: (v) => (typeof v === "string" && v !== "" ? undefined : "a non-empty path string"),
  initializeLogging: (v) =>
    typeof v === "boolean" ||
    (typeof v === "object" &&
      v !== null &&
      ["debug", "info", "warn", "error"].includes((v as { level?: string }).level ?? ""))
      ? undefined
      : 'true, false or { level: "debug" | "info" | "warn" | "error" }',
  exitMode: oneOf("cleanup", "wait", "skip"),
};

function oneOf(...allowed: string[]): (v: unknown) => string | undefined {
  return (v) =>
    typeof v === "string" && allowed.includes(v) ? undefined : `one of ${allowed.map((a) => `"${a}"`).join(", ")}`;
}

/** Throws ConfigError for the first problem in `config`. */
export function validateConfig(config: unknown): void {
  if (config === undefined) return;
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ConfigError(`config: expected a plain object, got ${describe(config)}`);
  }
  const c = config as Record<string, unknown>;
  for (const [key, value] of Object.entries(c)) {
    const check = CHECKS[key];
    if (check === undefined) {
      const hint = suggest(key);
      throw new ConfigError(
        `config.${key}: unknown field${hint ? ` (did you mean "${hint}"?)` : ""}; allowed: ${Object.keys(CHECKS).join(", ")}`,
      );
    }
    if (value === undefined) continue;
    const want = check(value);
    if (want !== undefined) throw new ConfigError(`config.${key}: expected ${want}, got ${describe(value)}`);
  }
  const executors = (c.executors ?? []) as unknown[];
  const labels = new Set<string>();
  executors.forEach((e, i) => {
    const ex = e as Record<string, unknown> | null;
    const ok =
      typeof ex === "object" &&
      ex !== null &&
      typeof ex.label === "string" &&
      ["start", "submit", "shutdown", "cancel"].every((m) => typeof ex[m] === "function");
    if (!ok) {
      throw new ConfigError(
        `config.executors[${i}]: expected an executor (an object with a label and start, submit, cancel, shutdown), got ${describe(e)}`,
      );
    }
    if (labels.has(ex.label as string)) {
      throw new ConfigError(
        `config.executors[${i}]: label ${JSON.stringify(ex.label)} is used twice; labels must be unique`,
      );
    }
    labels.add(ex.label as string);
  });
}

// Parsl's snake_case names and near-misses map to the field the user meant.
function suggest(key: string): string | undefined {
  const camel = key.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase());
  const known = Object.keys(CHECKS);
  const exact = known.find((k) => k.toLowerCase() === camel.toLowerCase());
  if (exact) return exact;
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = distance(camel.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
