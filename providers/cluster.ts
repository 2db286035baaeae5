/**
 * What every batch-scheduler provider shares: block options, walltime,
 * scheduler options, worker init, the launcher, a command runner with a
 * timeout, and scripts kept in `runinfo/NNN/submit_scripts` with the job's
 * `.out`, `.err` and `.ec` (exit code, written by the script) beside them.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe } from "../lib/app.js";
import { checkOptionKeys } from "../lib/options.js";
import { ConfigError, ProviderError } from "../lib/errors.js";
import type { Launcher } from "../launchers/launcher.js";
import { SingleNodeLauncher } from "../launchers/single-node.js";
import {
  checkBlockOptions,
  isFinal,
  unknownJob,
  type BlockOptions,
  type JobStatus,
  type Provider,
  type ProviderContext,
} from "./provider.js";
import { LocalRunner, quote, type CommandResult, type CommandRunner } from "./runner.js";

/** Options every cluster provider takes (Parsl's, camelCase). */
export interface ClusterOptions extends BlockOptions {
  /** Job time limit, `HH:MM:SS` (or `MM:SS`, or `D-HH:MM:SS`). @default "00:10:00" */
  walltime?: string;
  /** Extra scheduler directive lines, put as they are among the template's own. */
  schedulerOptions?: string;
  /** Cores of one node, when the scheduler should be told (and workers sized by it). */
  coresPerNode?: number;
  /** Memory of one node in MB, when the scheduler should be told. */
  memPerNode?: number;
  /** Seconds a scheduler command may take. @default 30 */
  cmdTimeout?: number;
  /** Seconds between status polls. @default 60 */
  statusPollingInterval?: number;
  /** Where scheduler commands run. @default new LocalRunner() */
  channel?: CommandRunner;
}

export const CLUSTER_KEYS = [
  "initBlocks",
  "minBlocks",
  "maxBlocks",
  "nodesPerBlock",
  "parallelism",
  "launcher",
  "workerInit",
  "walltime",
  "schedulerOptions",
  "coresPerNode",
  "memPerNode",
  "cmdTimeout",
  "statusPollingInterval",
  "channel",
] as const;

/** A job this provider submitted. */
export interface ClusterJob {
  name: string;
  last: JobStatus;
  /** When the scheduler stopped listing it. */
  goneSince?: number;
}

/** Base of the batch-scheduler providers. */
export abstract class ClusterProvider implements Provider {
  abstract readonly label: string;
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly nodesPerBlock: number;
  readonly parallelism: number;
  readonly coresPerNode: number | undefined;
  readonly memPerNode: number | undefined;
  readonly statusPollingInterval: number;
  readonly walltime: string;
  readonly schedulerOptions: string;
  readonly workerInit: string;
  readonly launcher: Launcher;
  readonly channel: CommandRunner;
  readonly cmdTimeout: number;
  #dir: string | undefined;

  protected constructor(name: string, options: ClusterOptions, known: readonly string[]) {
    checkOptionKeys(name, options, known);
    const b = checkBlockOptions(name, options);
    this.initBlocks = b.initBlocks;
    this.minBlocks = b.minBlocks;
    this.maxBlocks = b.maxBlocks;
    this.nodesPerBlock = b.nodesPerBlock;
    this.parallelism = b.parallelism;
    const positive = (k: keyof ClusterOptions, v: unknown): number | undefined => {
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
        throw new ConfigError(`${name} options.${k}: expected a number > 0, got ${describe(v)}`);
      }
      return v;
    };
    this.coresPerNode = positive("coresPerNode", options.coresPerNode);
    this.memPerNode = positive("memPerNode", options.memPerNode);
    this.cmdTimeout = positive("cmdTimeout", options.cmdTimeout) ?? 30;
    this.statusPollingInterval = positive("statusPollingInterval", options.statusPollingInterval) ?? 60;
    const wt = options.walltime ?? "00:10:00";
    if (typeof wt !== "string" || !/^(\d+-)?(\d+:)?\d+:\d\d$/.test(wt)) {
      throw new ConfigError(`${name} options.walltime: expected "HH:MM:SS" (or "D-HH:MM:SS"), got ${describe(wt)}`);
    }
    this.walltime = wt;
    for (const k of ["schedulerOptions", "workerInit"] as const) {
      if (options[k] !== undefined && typeof options[k] !== "string") {
        throw new ConfigError(`${name} options.${k}: expected a string of shell lines, got ${describe(options[k])}`);
      }
    }
    this.schedulerOptions = options.schedulerOptions ?? "";
    this.workerInit = options.workerInit ?? "";
    const l = options.launcher;
    if (l !== undefined && (typeof l !== "object" || l === null || typeof l.wrap !== "function")) {
      throw new ConfigError(
        `${name} options.launcher: expected a launcher (e.g. new SrunLauncher()), got ${describe(l)}`,
      );
    }
    this.launcher = l ?? new SingleNodeLauncher();
    const c = options.channel;
    if (c !== undefined && (typeof c !== "object" || c === null || typeof c.run !== "function")) {
      throw new ConfigError(
        `${name} options.channel: expected a command runner (e.g. new LocalRunner()), got ${describe(c)}`,
      );
    }
    this.channel = c ?? new LocalRunner();
  }

  start(ctx: ProviderContext): Promise<void> {
    this.#dir = path.join(ctx.runDir, "submit_scripts");
    fs.mkdirSync(this.#dir, { recursive: true });
    return Promise.resolve();
  }

  /** `runinfo/NNN/submit_scripts`. */
  protected get scriptDir(): string {
    if (this.#dir === undefined) throw new ProviderError(`${this.label} provider used before start()`);
    return this.#dir;
  }

  /** Where job scripts and their outputs are for the scheduler: the channel's `remoteDir`, else the run dir. */
  protected get jobDir(): string {
    return this.channel.remoteDir ?? this.scriptDir;
  }

  /** Writes a job script here and stages it where the scheduler runs; returns the path the scheduler sees. */
  protected async writeScript(jobName: string, text: string): Promise<string> {
    const file = path.join(this.scriptDir, `${jobName}.sh`);
    fs.writeFileSync(file, text, { mode: 0o755 });
    return this.channel.stage ? this.channel.stage(file) : file;
  }

  /** Runs a scheduler command; resolves whatever its exit code. */
  protected exec(argv: readonly string[], stdin?: string): Promise<CommandResult> {
    return this.channel.run(argv, { timeoutMs: this.cmdTimeout * 1000, stdin });
  }

  /** A ProviderError naming the command, its exit code and what it said (default: its stderr, else stdout). */
  protected commandFailed(argv: readonly string[], r: CommandResult, said = r.stderr || r.stdout): ProviderError {
    return new ProviderError(
      `\`${argv.map(quote).join(" ")}\` failed with exit code ${r.code}: ${said.trim() || "(no output)"}`,
    );
  }

  /** Runs a scheduler command that must succeed; otherwise a ProviderError with the command, exit code and stderr. */
  protected async execOk(argv: readonly string[], stdin?: string): Promise<CommandResult> {
    const r = await this.exec(argv, stdin);
    if (r.code !== 0) throw this.commandFailed(argv, r);
    return r;
  }

  // A small file of the job's, here or (remote channel) where the scheduler runs.
  async #read(file: string, lastLines?: number): Promise<string | undefined> {
    if (this.channel.remoteDir === undefined) {
      try {
        const t = fs.readFileSync(file, "utf8");
        return lastLines === undefined ? t : t.trimEnd().split("\n").slice(-lastLines).join("\n");
      } catch {
        return undefined;
      }
    }
    const r = await this.exec(lastLines === undefined ? ["cat", file] : ["tail", "-n", String(lastLines), file]);
    return r.code === 0 ? r.stdout : undefined;
  }

  /** The exit code the job script wrote, if it got that far. */
  protected async exitCodeOf(jobName: string): Promise<number | undefined> {
    const t = (await this.#read(path.posix.join(this.jobDir, `${jobName}.ec`)))?.trim();
    return t === undefined || t === "" ? undefined : Number(t);
  }

  /** Paths and the tail of stderr, for a status. */
  protected async outputs(
    jobName: string,
  ): Promise<Pick<JobStatus, "stdoutPath" | "stderrPath"> & { stderrTail: string }> {
    const stdoutPath = path.posix.join(this.jobDir, `${jobName}.out`);
    const stderrPath = path.posix.join(this.jobDir, `${jobName}.err`);
    const t = (await this.#read(stderrPath, 5))?.trimEnd();
    return { stdoutPath, stderrPath, stderrTail: t === undefined ? "(none)" : t === "" ? "(empty)" : t };
  }

  /** Jobs by id. */
  protected readonly jobs = new Map<string, ClusterJob>();

  /**
   * Writes and stages the script, runs `submitArgv(path)` (with the script on stdin when `stdin` is set), and
   * records the job id `parseId` finds in its output (default: the leading number).
   */
  protected async submitScript(
    jobName: string,
    text: string,
    submitArgv: (file: string) => string[],
    how: { stdin?: boolean; parseId?: (stdout: string) => string | undefined } = {},
  ): Promise<string> {
    const file = await this.writeScript(jobName, text);
    const argv = submitArgv(file);
    const r = await this.execOk(argv, how.stdin ? text : undefined);
    const id = (how.parseId ?? ((out: string) => /^(\d+)/.exec(out.trim())?.[1]))(r.stdout);
    if (id === undefined) {
      throw new ProviderError(`\`${argv.map(quote).join(" ")}\` printed no job id: ${JSON.stringify(r.stdout.trim())}`);
    }
    this.jobs.set(id, { name: jobName, last: { state: "pending" } });
    return id;
  }

  /**
   * Statuses in the order asked: `poll` lists the scheduler's state code of each live job it still knows (one
   * command for all), `judge` turns a code (undefined: no longer listed) into a status; ended jobs keep theirs.
   */
  protected async statusOf(
    jobIds: readonly string[],
    poll: (live: string[]) => Promise<Map<string, string>>,
    judge: (id: string, job: ClusterJob, code: string | undefined) => Promise<JobStatus>,
  ): Promise<JobStatus[]> {
    const live = jobIds.filter((id) => this.jobs.has(id) && !isFinal(this.jobs.get(id)!.last));
    const seen = live.length > 0 ? await poll(live) : new Map<string, string>();
    const out: JobStatus[] = [];
    for (const id of jobIds) {
      const job = this.jobs.get(id);
      if (job === undefined) {
        out.push(unknownJob(id));
        continue;
      }
      if (live.includes(id)) job.last = await judge(id, job, seen.get(id));
      out.push(job.last);
    }
    return out;
  }

  /** Runs `cancelArgv(ids)` for the live jobs among `jobIds` and marks them cancelled. */
  protected async cancelWith(jobIds: readonly string[], cancelArgv: (ids: string[]) => string[]): Promise<boolean[]> {
    const live = jobIds.filter((id) => this.jobs.has(id) && !isFinal(this.jobs.get(id)!.last));
    if (live.length > 0) await this.execOk(cancelArgv(live));
    return jobIds.map((id) => {
      if (!live.includes(id)) return false;
      const job = this.jobs.get(id)!;
      job.last = { ...job.last, state: "cancelled" };
      return true;
    });
  }

  abstract submit(command: string, tasksPerNode: number, jobName: string): Promise<string>;
  abstract status(jobIds: readonly string[]): Promise<JobStatus[]>;
  abstract cancel(jobIds: readonly string[]): Promise<boolean[]>;
}
