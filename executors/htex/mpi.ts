/**
 * MPI mode of a worker pool: the manager owns its block's nodes and lends
 * them to multi-node tasks. A task with `resources: { numNodes, ranksPerNode }`
 * gets that many free nodes for as long as it runs, and sees
 * `TASKLOOM_MPI_PREFIX` (the launcher command line to put before its MPI
 * program), `TASKLOOM_NUM_RANKS` and `TASKLOOM_NODELIST`, as in Parsl's MPI mode.
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import type { Resources } from "../executor.js";

/** How MPI programs are started. */
export type MpiLauncher = "srun" | "mpiexec";

/** The block's nodes: SLURM's node list, PBS's node file, `TASKLOOM_NODELIST`, else this host. */
export function discoverNodes(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.TASKLOOM_NODELIST) return unique(env.TASKLOOM_NODELIST.split(","));
  if (env.SLURM_JOB_NODELIST) {
    const r = spawnSync("scontrol", ["show", "hostnames", env.SLURM_JOB_NODELIST], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim() !== "") return unique(r.stdout.split("\n"));
    throw new Error(`cannot expand SLURM_JOB_NODELIST=${env.SLURM_JOB_NODELIST}: ${r.stderr || r.error?.message}`);
  }
  if (env.PBS_NODEFILE) return unique(fs.readFileSync(env.PBS_NODEFILE, "utf8").split("\n"));
  return ["localhost"];
}

function unique(xs: string[]): string[] {
  return [...new Set(xs.map((x) => x.trim()).filter(Boolean))];
}

/** Nodes and ranks a task asks for (one node, one rank unless said). */
export function mpiShape(r: Resources | undefined): { nodes: number; ranksPerNode: number } {
  return { nodes: r?.numNodes ?? 1, ranksPerNode: r?.ranksPerNode ?? 1 };
}

/** The environment a task running on `nodes` gets. */
export function mpiEnv(
  launcher: MpiLauncher,
  command: string,
  overrides: string,
  nodes: string[],
  ranksPerNode: number,
): Record<string, string> {
  const ranks = nodes.length * ranksPerNode;
  const list = nodes.join(",");
  const prefix =
    launcher === "srun"
      ? `${command} -N ${nodes.length} -n ${ranks} --ntasks-per-node=${ranksPerNode} --nodelist=${list}`
      : `${command} -n ${ranks} -ppn ${ranksPerNode} -hosts ${list}`;
  return {
    TASKLOOM_MPI_PREFIX: overrides ? `${prefix} ${overrides}` : prefix,
    TASKLOOM_NUM_RANKS: String(ranks),
    TASKLOOM_RANKS_PER_NODE: String(ranksPerNode),
    TASKLOOM_NODELIST: list,
  };
}

/** The free nodes of a block; tasks take and give back whole nodes. */
export class NodePool {
  readonly all: readonly string[];
  readonly #free: string[];

  constructor(nodes: string[]) {
    this.all = nodes;
    this.#free = [...nodes];
  }

  get free(): number {
    return this.#free.length;
  }

  /** `n` nodes, or undefined if fewer are free. */
  take(n: number): string[] | undefined {
    if (n > this.#free.length) return undefined;
    return this.#free.splice(0, n);
  }

  give(nodes: readonly string[]): void {
    for (const n of nodes) if (this.all.includes(n) && !this.#free.includes(n)) this.#free.push(n);
  }
}
