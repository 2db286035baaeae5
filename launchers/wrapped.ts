/**
 * WrappedLauncher: a prefix before the command, e.g. a container runtime.
 * @module
 */
import type { Launcher } from "./launcher.js";
import { describe } from "../lib/app.js";
import { ConfigError } from "../lib/errors.js";

/**
 * Runs `<prepend> <command>`.
 * @example
 * ```ts
 * new WrappedLauncher({ prepend: "apptainer exec image.sif" });
 * ```
 */
export class WrappedLauncher implements Launcher {
  readonly name = "WrappedLauncher";
  readonly prepend: string;
  constructor(options: { prepend: string }) {
    if (typeof options !== "object" || options === null || typeof options.prepend !== "string") {
      throw new ConfigError(`WrappedLauncher(options): expected { prepend: string }, got ${describe(options)}`);
    }
    this.prepend = options.prepend;
  }
  wrap(command: string): string {
    return `${this.prepend} ${command}`;
  }
}
