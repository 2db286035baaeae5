/**
 * AdHocProvider: a fixed set of hosts reached through command runners
 * (usually {@link SSHRunner}), one block per host. A block is the job script
 * started in the background in a session of its own; its exit code lands in
 * a `.ec` file beside its `.out` and `.err`.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe } from "../../lib/app.js";
import { checkOptionKeys } from "../../lib/options.js";
import { ConfigError, ProviderError } from "../../lib/errors.js";
import type { Launcher } from "../../launchers/launcher.js";
import { SingleNodeLauncher } from "../../launchers/single-node.js";
import {
  checkBlockOptions,
  isFinal,
  unknownJob,
  type BlockOptions,
  type JobStatus,
  type Provider,
  type ProviderContext,
} from "../provider.js";
import { quote, type CommandResult, type CommandRunner } from "../runner.js";

/** Options of {@link AdHocProvider}. */
export interface AdHocProviderOptions extends Omit<BlockOptions, "nodesPerBlock"> {
  /** One runner per host; each host runs at most one block. */
  channels: CommandRunner[];
  /** Seconds a command may take. @default 30 */
  cmdTimeout?: number;
  /** Seconds between status polls. @default 5 */
  statusPollingInterval?: number;
}

const KNOWN = [
  "channels",
  "initBlocks",
  "minBlocks",
  "maxBlocks",
  "parallelism",
  "launcher",
  "workerInit",
  "cmdTimeout",
  "statusPollingInterval",
];

interface Job {
  host: number;
  pid: number;
  base: string;
  last: JobStatus;
}

/**
 * Blocks on a fixed list of hosts.
 * @example
 * ```ts
 * const hosts = ["node1", "node2"].map((host) => new SSHRunner({ host, privateKey: "~/.ssh/id_ed25519" }));
 * new HighThroughputExecutor({ address: "10.0.0.5", provider: new AdHocProvider({ channels: hosts }) });
 * ```
 */
export class AdHocProvider implements Provider {
  readonly label = "adhoc";
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly nodesPerBlock = 1;
  readonly parallelism: number;
  readonly coresPerNode = undefined;
  readonly memPerNode = undefined;
  readonly statusPollingInterval: number;
  readonly channels: readonly CommandRunner[];
  readonly launcher: Launcher;
  readonly workerInit: string;
  readonly cmdTimeout: number;
  readonly #jobs = new Map<string, Job>();
  #dir: string | undefined;

  constructor(options: AdHocProviderOptions) {
    checkOptionKeys("AdHocProvider", options, KNOWN, "an object with channels");
    const ch: unknown = options.channels;
    if (
      !Array.isArray(ch) ||
      ch.length === 0 ||
      !ch.every((c) => typeof (c as CommandRunner | null)?.run === "function")
    ) {
      throw new ConfigError(
        `AdHocProvider options.channels: expected a non-empty array of command runners (e.g. new SSHRunner({ host })), got ${describe(ch)}`,
      );
    }
    this.channels = ch as CommandRunner[];
    const b = checkBlockOptions("AdHocProvider", {
      ...options,
      initBlocks: options.initBlocks ?? this.channels.length,
      maxBlocks: options.maxBlocks ?? this.channels.length,
    });
    if (b.maxBlocks > this.channels.length) {
      throw new ConfigError(
        `AdHocProvider options.maxBlocks (${b.maxBlocks}) must not exceed the number of channels (${this.channels.length}): one block per host`,
      );
    }
    this.initBlocks = b.initBlocks;
    this.minBlocks = b.minBlocks;
    this.maxBlocks = b.maxBlocks;
    this.parallelism = b.parallelism;
    this.launcher = options.launcher ?? new SingleNodeLauncher();
    this.workerInit = options.workerInit ?? "";
    this.cmdTimeout = options.cmdTimeout ?? 30;
    this.statusPollingInterval = options.statusPollingInterval ?? 5;
  }

  start(ctx: ProviderContext): Promise<void> {
    this.#dir = path.join(ctx.runDir, "submit_scripts");
    fs.mkdirSync(this.#dir, { recursive: true });
    return Promise.resolve();
  }

  #exec(host: number, script: string): Promise<CommandResult> {
    return this.channels[host]!.run(["bash", "-c", script], { timeoutMs: this.cmdTimeout * 1000 });
  }

  async submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    if (this.#dir === undefined) throw new ProviderError("AdHocProvider.submit before start");
    const busy = new Set([...this.#jobs.values()].filter((j) => !isFinal(j.last)).map((j) => j.host));
    const host = this.channels.findIndex((_, i) => !busy.has(i));
    if (host < 0) throw new ProviderError(`every one of the ${this.channels.length} hosts already runs a block`);
    const ch = this.channels[host]!;
    const local = path.join(this.#dir, `${jobName}.sh`);
    const remoteDir = ch.remoteDir ?? this.#dir;
    const base = path.posix.join(remoteDir, jobName);
    fs.writeFileSync(
      local,
      `#!/bin/bash
export JOBNAME=${jobName}
export TASKLOOM_SCRIPT_DIR=${quote(remoteDir)}
${this.workerInit}
${this.launcher.wrap(command, tasksPerNode, 1)}
`,
      { mode: 0o755 },
    );
    const script = ch.stage ? await ch.stage(local) : local;
    // A session of its own: the block outlives the command's connection, and cancel can signal its whole group.
    const r = await this.#exec(
      host,
      `setsid bash -c ${quote(`bash ${quote(script)}; echo $? > ${quote(base)}.ec`)} > ${quote(base)}.out 2> ${quote(base)}.err < /dev/null & echo $!`,
    );
    const pid = Number(r.stdout.trim());
    if (r.code !== 0 || !Number.isInteger(pid) || pid <= 1) {
      throw new ProviderError(
        `cannot start ${jobName} on ${ch.label}: exit code ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`,
      );
    }
    const id = `${host}:${pid}`;
    this.#jobs.set(id, { host, pid, base, last: { state: "running" } });
    return id;
  }

  async status(jobIds: readonly string[]): Promise<JobStatus[]> {
    const out: JobStatus[] = [];
    for (const id of jobIds) {
      const job = this.#jobs.get(id);
      if (job === undefined) {
        out.push(unknownJob(id));
        continue;
      }
      if (!isFinal(job.last)) {
        const b = quote(job.base);
        const r = await this.#exec(
          job.host,
          `if [ -s ${b}.ec ]; then echo "E $(cat ${b}.ec)"; elif kill -0 ${job.pid} 2>/dev/null; then echo R; else echo X; fi; tail -n 5 ${b}.err 2>/dev/null`,
        );
        const [first, ...rest] = r.stdout.split("\n");
        const tail = rest.join("\n").trim() || "(empty)";
        const paths = { stdoutPath: `${job.base}.out`, stderrPath: `${job.base}.err` };
        if (first?.startsWith("E ")) {
          const code = Number(first.slice(2));
          job.last =
            code === 0
              ? { state: "completed", exitCode: 0, ...paths }
              : { state: "failed", exitCode: code, message: `exit code ${code}; stderr: ${tail}`, ...paths };
        } else if (first === "R") job.last = { state: "running", ...paths };
        else if (first === "X") {
          job.last = {
            state: "failed",
            message: `the block's process ${job.pid} is gone without an exit code; stderr: ${tail}`,
            ...paths,
          };
        } else
          throw new ProviderError(`status of ${id} on ${this.channels[job.host]!.label} failed: ${r.stderr.trim()}`);
      }
      out.push(job.last);
    }
    return out;
  }

  async cancel(jobIds: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (const id of jobIds) {
      const job = this.#jobs.get(id);
      if (job === undefined || isFinal(job.last)) {
        out.push(false);
        continue;
      }
      // TERM to the whole session's group so the worker pool stops its workers; KILL what is left 2 s later.
      await this.#exec(
        job.host,
        `kill -TERM -- -${job.pid} 2>/dev/null; (sleep 2; kill -KILL -- -${job.pid} 2>/dev/null) > /dev/null 2>&1 < /dev/null &`,
      );
      job.last = { ...job.last, state: "cancelled" };
      out.push(true);
    }
    return out;
  }
}
