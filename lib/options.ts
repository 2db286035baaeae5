/**
 * The first check of every options object (executors, providers, launchers,
 * runners): it is an object, and each key is one the class knows.
 * @module
 */
import { describe } from "./app.js";
import { ConfigError } from "./errors.js";

/**
 * Throws a ConfigError naming `where` unless `options` is an object whose keys are all in `known`.
 * @example
 * ```ts
 * checkOptionKeys("SlurmProvider", options, ["partition", "walltime"]);
 * ```
 */
export function checkOptionKeys(where: string, options: unknown, known: readonly string[], what = "an object"): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ConfigError(`${where}(options): expected ${what}, got ${describe(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (!known.includes(k))
      throw new ConfigError(`${where} options.${k}: unknown option; allowed: ${known.join(", ")}`);
  }
}
