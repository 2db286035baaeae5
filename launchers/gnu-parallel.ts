/**
 * GnuParallelLauncher: GNU `parallel` over SSH to each distinct host of the
 * node file (`$PBS_NODEFILE`, else this host).
 * @module
 */
import type { Launcher } from "./launcher.js";
import { commandFile, overridesOf } from "./command-file.js";

/**
 * tasksPerNode × nodesPerBlock copies, tasksPerNode at a time per host.
 * @example
 * ```ts
 * new LocalProvider({ launcher: new GnuParallelLauncher() });
 * ```
 */
export class GnuParallelLauncher implements Launcher {
  readonly name = "GnuParallelLauncher";
  constructor(options: object = {}) {
    overridesOf(this.name, options, []);
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    return `export CORES=$(getconf _NPROCESSORS_ONLN)
WORKERCOUNT=${tasksPerNode * nodesPerBlock}
SSHLOGINFILE="$TASKLOOM_CMD.nodes"
if [ -z "\${PBS_NODEFILE:-}" ]; then echo ":" > "$SSHLOGINFILE"; else sort -u "$PBS_NODEFILE" > "$SSHLOGINFILE"; fi
${commandFile(command)}PFILE="$TASKLOOM_CMD.parallel"
: > "$PFILE"
for COUNT in $(seq 1 $WORKERCOUNT); do echo "/bin/bash '$TASKLOOM_CMD'" >> "$PFILE"; done
parallel --env _ --joblog "$TASKLOOM_CMD.parallel.log" --sshloginfile "$SSHLOGINFILE" --jobs ${tasksPerNode} < "$PFILE"
`;
  }
}
