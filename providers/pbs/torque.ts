/**
 * TorqueProvider: blocks are Torque jobs (`qsub`), polled with one `qstat -f` for all of them, cancelled with
 * `qdel`. Also works with SLURM's Torque-compatible commands (Debian's slurm-wlm-torque).
 * @module
 */
import { AprunLauncher } from "../../launchers/aprun.js";
import { PBS_KEYS, PbsProvider, type PbsOptions } from "./base.js";
import { torqueScript } from "./template.js";

/** Options of {@link TorqueProvider} (Parsl's, camelCase). */
export type TorqueProviderOptions = PbsOptions;

/**
 * Blocks as Torque jobs: `#PBS -l nodes=<nodesPerBlock>:ppn=<tasksPerNode>`, or with `jobArray: true` an array
 * (`#PBS -t 0-<n-1>`) of `nodesPerBlock` one-node subjobs. The default launcher is Parsl's, `AprunLauncher`.
 * Torque keeps a finished job in `qstat` (state `C`, with `exit_status`) for the server's `keep_completed` seconds;
 * after that the exit code comes from the file the job script writes.
 * @example
 * ```ts
 * new HighThroughputExecutor({
 *   provider: new TorqueProvider({ account: "myproject", queue: "batch", nodesPerBlock: 2, walltime: "01:00:00",
 *     launcher: new MpiExecLauncher(), workerInit: "module load nodejs" }),
 * });
 * ```
 */
export class TorqueProvider extends PbsProvider {
  readonly label = "torque";
  protected readonly qstatFlags = ["-f"];

  constructor(options: TorqueProviderOptions = {}) {
    super("TorqueProvider", { ...options, launcher: options.launcher ?? new AprunLauncher() }, PBS_KEYS);
  }

  script(command: string, tasksPerNode: number, jobName: string): string {
    return torqueScript({ ...this.scriptParts(command, tasksPerNode, jobName), ppn: tasksPerNode });
  }
}
