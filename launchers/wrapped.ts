/**
 * WrappedLauncher: a prefix before the command, e.g. a container runtime.
 * @module
 */
import type { Launcher } from "./launcher.js";

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
    this.prepend = options.prepend;
  }
  wrap(command: string): string {
    return `${this.prepend} ${command}`;
  }
}
