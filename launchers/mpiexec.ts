/**
 * MpiExecLauncher: `mpiexec` starts tasksPerNode × nodesPerBlock copies over
 * the hosts of the allocation (`$HOSTFILE`, else `$PBS_NODEFILE`, else the
 * MPI library's own discovery, e.g. SLURM's).
 * @module
 */
import type { Launcher } from "./launcher.js";
import { commandFile, overridesOf, words } from "./command-file.js";
import { describe } from "../lib/app.js";
import { ConfigError } from "../lib/errors.js";

/**
 * Runs `mpiexec <bindCmd> none <overrides> -n <count> [-hostfile F] /bin/bash "$TASKLOOM_CMD"`.
 * @example
 * ```ts
 * new LocalProvider({ launcher: new MpiExecLauncher({ overrides: "--oversubscribe" }) });
 * ```
 */
export class MpiExecLauncher implements Launcher {
  readonly name = "MpiExecLauncher";
  readonly overrides: string;
  readonly bindCmd: string;
  readonly mpiexec: string;
  constructor(options: { overrides?: string; bindCmd?: string; mpiexec?: string } = {}) {
    this.overrides = overridesOf(this.name, options, ["bindCmd", "mpiexec"]);
    for (const k of ["bindCmd", "mpiexec"] as const) {
      const v = options[k];
      if (v !== undefined && (typeof v !== "string" || v === "")) {
        throw new ConfigError(`${this.name} options.${k}: expected a non-empty string, got ${describe(v)}`);
      }
    }
    this.bindCmd = options.bindCmd ?? "--bind-to";
    this.mpiexec = options.mpiexec ?? "mpiexec";
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    return `WORKERCOUNT=${tasksPerNode * nodesPerBlock}
HOSTFILE=\${HOSTFILE:-\${PBS_NODEFILE:-}}
${commandFile(command)}${words(this.mpiexec, this.bindCmd, "none", this.overrides, '-n $WORKERCOUNT ${HOSTFILE:+-hostfile "$HOSTFILE"}', '/bin/bash "$TASKLOOM_CMD"')}
`;
  }
}
