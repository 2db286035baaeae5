/**
 * What every batch job script shares: the walltime arithmetic and the tail
 * that runs the launched worker pool and records its exit code.
 * @module
 */

/** A validated walltime (`D-HH:MM:SS`, `HH:MM:SS` or `MM:SS`) in seconds. */
export function walltimeSeconds(walltime: string): number {
  const [days, clock] = walltime.includes("-") ? walltime.split("-") : ["0", walltime];
  const parts = clock!.split(":").map(Number);
  while (parts.length < 3) parts.unshift(0);
  const [h, m, s] = parts as [number, number, number];
  return ((Number(days) * 24 + h) * 60 + m) * 60 + s;
}

/** What the tail of a job script needs. */
export interface ScriptTail {
  jobName: string;
  scriptDir: string;
  /** Cores of a node, exported to the workers as `TASKLOOM_CORES`. */
  cores?: number;
  /** MB of a node, exported to the workers as `TASKLOOM_MEMORY_MB`. */
  memoryMB?: number;
  /** Shell lines after the exports, before the worker pool (e.g. `cd "$SLURM_SUBMIT_DIR"`). */
  setup?: string;
  workerInit: string;
  launched: string;
  /** Where the exit code goes. @default `<scriptDir>/<jobName>.ec` */
  ecFile?: string;
}

/** The end of every job script: the command runs in a subshell so its exit code always reaches the `.ec` file. */
export function scriptTail(s: ScriptTail): string {
  return `${s.cores !== undefined ? `export TASKLOOM_CORES=${s.cores}\n` : ""}${
    s.memoryMB !== undefined ? `export TASKLOOM_MEMORY_MB=${s.memoryMB}\n` : ""
  }export JOBNAME=${s.jobName}
export TASKLOOM_SCRIPT_DIR=${s.scriptDir}
${s.setup ? s.setup.trimEnd() + "\n" : ""}(
${s.workerInit}
${s.launched}
)
TASKLOOM_RC=$?
echo $TASKLOOM_RC > ${s.ecFile ?? `${s.scriptDir}/${s.jobName}.ec`}
exit $TASKLOOM_RC
`;
}
