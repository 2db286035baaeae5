/**
 * SrunMPILauncher: splits a SLURM allocation into tasksPerNode × nodesPerBlock
 * parts with one `srun` each, so each worker pool can start MPI applications
 * on its own nodes (or cores, when there are more parts than nodes).
 * @module
 */
import type { Launcher } from "./launcher.js";
import { commandFile, overridesOf, words } from "./command-file.js";

/**
 * One `srun --exclusive --nodes N/parts` per part (or `--ntasks cores/part` when parts outnumber nodes).
 * @example
 * ```ts
 * new SlurmProvider({ nodesPerBlock: 4, launcher: new SrunMPILauncher() });
 * ```
 */
export class SrunMPILauncher implements Launcher {
  readonly name = "SrunMPILauncher";
  readonly overrides: string;
  constructor(options: { overrides?: string } = {}) {
    this.overrides = overridesOf(this.name, options);
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    const parts = tasksPerNode * nodesPerBlock;
    const o = this.overrides;
    return `export CORES=$SLURM_CPUS_ON_NODE
export NODES=$SLURM_JOB_NUM_NODES
${commandFile(command)}TASKBLOCKS=${parts}
if (( TASKBLOCKS > NODES )); then
  CORES_PER_BLOCK=$(( NODES * CORES / TASKBLOCKS ))
  for BLK in $(seq 1 $TASKBLOCKS); do
    ${words("srun --ntasks $CORES_PER_BLOCK -l", o, 'bash "$TASKLOOM_CMD" &')}
  done
else
  NODES_PER_BLOCK=$(( NODES / TASKBLOCKS ))
  for BLK in $(seq 1 $TASKBLOCKS); do
    ${words("srun --exclusive --nodes $NODES_PER_BLOCK --ntasks $NODES_PER_BLOCK -l", o, 'bash "$TASKLOOM_CMD" &')}
  done
fi
wait
`;
  }
}
