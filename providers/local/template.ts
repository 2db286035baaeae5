/**
 * The job script LocalProvider writes for each block.
 * @module
 */

/** Bash for one block: the job name and script dir (launchers write there), worker init, the launched command. */
export function localJobScript(jobName: string, scriptDir: string, workerInit: string, launched: string): string {
  return `#!/bin/bash
# taskloom block ${jobName}
export JOBNAME=${jobName}
export TASKLOOM_SCRIPT_DIR=${scriptDir}
${workerInit}
${launched}
`;
}
