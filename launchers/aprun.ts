/**
 * AprunLauncher: Cray ALPS `aprun`.
 * @module
 */
import type { Launcher } from "./launcher.js";
import { commandFile, overridesOf, words } from "./command-file.js";

/**
 * Runs `aprun -n <tasksPerNode × nodesPerBlock> -N <tasksPerNode> <overrides> /bin/bash "$TASKLOOM_CMD"`.
 * @example
 * ```ts
 * new SlurmProvider({ launcher: new AprunLauncher({ overrides: "-cc none" }) });
 * ```
 */
export class AprunLauncher implements Launcher {
  readonly name = "AprunLauncher";
  readonly overrides: string;
  constructor(options: { overrides?: string } = {}) {
    this.overrides = overridesOf(this.name, options);
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    return `${commandFile(command)}${words("aprun -n", tasksPerNode * nodesPerBlock, "-N", tasksPerNode, this.overrides, '/bin/bash "$TASKLOOM_CMD"')}
`;
  }
}
