/**
 * SimpleLauncher: the command, unchanged (one copy, on the block's first node).
 * @module
 */
import type { Launcher } from "./launcher.js";

/**
 * Runs the command once, as is.
 * @example
 * ```ts
 * new LocalProvider({ launcher: new SimpleLauncher() });
 * ```
 */
export class SimpleLauncher implements Launcher {
  readonly name = "SimpleLauncher";
  wrap(command: string): string {
    return command;
  }
}
