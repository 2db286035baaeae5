/**
 * MpiRunLauncher: `mpirun -np <count>` over the allocation.
 * @module
 */
import type { Launcher } from "./launcher.js";
import { commandFile, overridesOf, words } from "./command-file.js";

/**
 * Runs `mpirun -np <tasksPerNode × nodesPerBlock> <overrides> /bin/bash "$TASKLOOM_CMD"`.
 * @example
 * ```ts
 * new LocalProvider({ launcher: new MpiRunLauncher() });
 * ```
 */
export class MpiRunLauncher implements Launcher {
  readonly name = "MpiRunLauncher";
  readonly overrides: string;
  constructor(options: { overrides?: string } = {}) {
    this.overrides = overridesOf(this.name, options);
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    return `WORKERCOUNT=${tasksPerNode * nodesPerBlock}
${commandFile(command)}${words("mpirun -np $WORKERCOUNT", this.overrides, '/bin/bash "$TASKLOOM_CMD"')}
`;
  }
}
