/**
 * SrunLauncher: `srun` starts tasksPerNode × nodesPerBlock copies across the
 * SLURM allocation.
 * @module
 */
import type { Launcher } from "./launcher.js";
import { commandFile, overridesOf, words } from "./command-file.js";

/**
 * Runs `srun --ntasks <tasksPerNode × nodesPerBlock> -l <overrides> bash "$TASKLOOM_CMD"`.
 * @example
 * ```ts
 * new SlurmProvider({ nodesPerBlock: 2, launcher: new SrunLauncher({ overrides: "--cpu-bind=none" }) });
 * ```
 */
export class SrunLauncher implements Launcher {
  readonly name = "SrunLauncher";
  readonly overrides: string;
  constructor(options: { overrides?: string } = {}) {
    this.overrides = overridesOf(this.name, options);
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    const tasks = tasksPerNode * nodesPerBlock;
    return `export CORES=$SLURM_CPUS_ON_NODE
export NODES=$SLURM_JOB_NUM_NODES
${commandFile(command)}${words("srun --ntasks", tasks, "--ntasks-per-node", tasksPerNode, "-l", this.overrides, 'bash "$TASKLOOM_CMD"')}
`;
  }
}
