/**
 * The job script LocalProvider writes for each block.
 * @module
 */

/** Bash for one block: worker init, the job name, then the launched command. */
export function localJobScript(jobName: string, workerInit: string, launched: string): string {
  return `#!/bin/bash
# taskloom block ${jobName}
${workerInit}
export JOBNAME=${jobName}
${launched}
`;
}
