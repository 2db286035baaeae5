/**
 * PBSProProvider: blocks are PBS Pro / OpenPBS jobs (`qsub`), polled with one `qstat -x -f` for all of them (`-x`
 * keeps finished jobs listed with their `Exit_status`), cancelled with `qdel`.
 * @module
 */
import { describe } from "../../lib/app.js";
import { ConfigError } from "../../lib/errors.js";
import { PBS_KEYS, PbsProvider, type PbsOptions } from "./base.js";
import { pbsProScript } from "./template.js";

/** Options of {@link PBSProProvider} (Parsl's, camelCase). */
export interface PBSProProviderOptions extends PbsOptions {
  /** CPUs asked for on each node (`ncpus` of the select statement). @default 1 */
  cpusPerNode?: number;
  /** Appended to the select statement, e.g. `"ngpus=4"` (a leading `:` is added when missing). */
  selectOptions?: string;
}

const KNOWN = [...PBS_KEYS, "cpusPerNode", "selectOptions"];

/**
 * Blocks as PBS Pro / OpenPBS jobs: `#PBS -l select=<nodesPerBlock>:ncpus=<cpusPerNode>[:selectOptions]`, or with
 * `jobArray: true` an array (`#PBS -J 0-<n-1>`) of `nodesPerBlock` one-node subjobs.
 * @example
 * ```ts
 * new HighThroughputExecutor({
 *   provider: new PBSProProvider({ account: "myproject", queue: "debug", nodesPerBlock: 2, cpusPerNode: 64,
 *     selectOptions: "ngpus=4", walltime: "01:00:00", launcher: new MpiExecLauncher() }),
 * });
 * ```
 */
export class PBSProProvider extends PbsProvider {
  readonly label = "pbspro";
  readonly cpusPerNode: number;
  readonly selectOptions: string;
  protected readonly qstatFlags = ["-x", "-f"];

  constructor(options: PBSProProviderOptions = {}) {
    super("PBSProProvider", options, KNOWN);
    const c = options.cpusPerNode ?? 1;
    if (!Number.isInteger(c) || c < 1) {
      throw new ConfigError(`PBSProProvider options.cpusPerNode: expected an integer >= 1, got ${describe(c)}`);
    }
    const s = options.selectOptions ?? "";
    if (typeof s !== "string" || /\s/.test(s)) {
      throw new ConfigError(
        `PBSProProvider options.selectOptions: expected select resources like "ngpus=4:mem=64gb" (no spaces), got ${describe(s)}`,
      );
    }
    this.cpusPerNode = c;
    this.selectOptions = s;
  }

  script(command: string, tasksPerNode: number, jobName: string): string {
    const parts = this.scriptParts(command, tasksPerNode, jobName);
    return pbsProScript({
      ...parts,
      chunks: parts.nodes,
      cpusPerNode: this.cpusPerNode,
      selectOptions: this.selectOptions,
    });
  }
}
