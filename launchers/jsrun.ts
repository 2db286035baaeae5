/**
 * JsrunLauncher: IBM LSF `jsrun` (Summit-class machines).
 * @module
 */
import type { Launcher } from "./launcher.js";
import { commandFile, overridesOf, words } from "./command-file.js";

/**
 * Runs `jsrun -n <tasksPerNode × nodesPerBlock> -r <tasksPerNode> <overrides> /bin/bash "$TASKLOOM_CMD"`.
 * @example
 * ```ts
 * new SlurmProvider({ launcher: new JsrunLauncher({ overrides: "-g 1" }) });
 * ```
 */
export class JsrunLauncher implements Launcher {
  readonly name = "JsrunLauncher";
  readonly overrides: string;
  constructor(options: { overrides?: string } = {}) {
    this.overrides = overridesOf(this.name, options);
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    return `${commandFile(command)}${words("jsrun -n", tasksPerNode * nodesPerBlock, "-r", tasksPerNode, this.overrides, '/bin/bash "$TASKLOOM_CMD"')}
`;
  }
}
