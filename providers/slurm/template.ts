/**
 * The sbatch script of one SlurmProvider block.
 * @module
 */
import { scriptTail } from "../job-script.js";

/** What the template needs. */
export interface SlurmScript {
  jobName: string;
  scriptDir: string;
  nodes: number;
  tasksPerNode: number;
  walltime: string;
  partition?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  clusters?: string;
  exclusive: boolean;
  /** MB. */
  memPerNode?: number;
  coresPerNode?: number;
  gres?: string;
  schedulerOptions: string;
  workerInit: string;
  /** The launched worker-pool command. */
  launched: string;
}

/** Renders the script; directives first (sbatch reads none after the first command). */
export function slurmScript(s: SlurmScript): string {
  const d = (line: string | false | undefined): string => (line ? `#SBATCH ${line}\n` : "");
  const base = `${s.scriptDir}/${s.jobName}`;
  const cpusPerTask = s.coresPerNode !== undefined ? Math.max(1, Math.floor(s.coresPerNode / s.tasksPerNode)) : 0;
  return `#!/bin/bash
${d(`--job-name=${s.jobName}`)}${d(`--output=${base}.out`)}${d(`--error=${base}.err`)}${d(`--nodes=${s.nodes}`)}${d(
    `--time=${s.walltime}`,
  )}${d(`--ntasks-per-node=${s.tasksPerNode}`)}${d(s.exclusive && "--exclusive")}${d(
    s.partition && `--partition=${s.partition}`,
  )}${d(s.account && `--account=${s.account}`)}${d(s.qos && `--qos=${s.qos}`)}${d(
    s.constraint && `--constraint=${s.constraint}`,
  )}${d(s.clusters && `--clusters=${s.clusters}`)}${d(s.memPerNode !== undefined && `--mem=${s.memPerNode}M`)}${d(
    cpusPerTask > 0 && `--cpus-per-task=${cpusPerTask}`,
  )}${d(s.gres && `--gres=${s.gres}`)}${s.schedulerOptions ? s.schedulerOptions.trimEnd() + "\n" : ""}
${scriptTail({ ...s, cores: s.coresPerNode, memoryMB: s.memPerNode, setup: 'cd "${SLURM_SUBMIT_DIR:-.}"' })}`;
}
