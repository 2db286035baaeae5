/**
 * Blocks of a block executor and the scaling strategy, as Parsl computes it:
 * with T outstanding tasks, S = blocks × nodes × workers slots and
 * parallelism p, scale out ceil((T·p − S) / slots per block) blocks up to
 * maxBlocks; with no tasks, scale in idle blocks past maxIdleTime down to
 * minBlocks (`htex_auto_scale` also trims surplus blocks while busy, choosing
 * blocks whose managers have run nothing for maxIdleTime). Below minBlocks
 * (blocks ended) it submits again.
 * A block that ends without its manager ever connecting is reported, with
 * its exit code and stderr, so the executor can fail fast instead of waiting.
 * @module
 */
import type { ScalingSettings } from "../executor.js";
import type { Logger } from "../../lib/logging.js";
import { TERMINAL_JOB_STATES, type JobStatus, type Provider } from "../../providers/provider.js";

/** One block: a provider job. */
export interface Block {
  id: string;
  jobId: string | undefined;
  status: JobStatus;
  connected: boolean;
  /** Managers connected now. */
  managers: number;
}

/** What the block manager needs from its executor. */
export interface BlockHost {
  readonly provider: Provider;
  readonly logger: Logger;
  readonly scaling: ScalingSettings;
  /** Worker slots per node (for the slot arithmetic). */
  workersPerNode(): number;
  outstanding(): number;
  /** The command a block runs for `blockId`. */
  command(blockId: string): string;
  /** A block ended without ever connecting, and no block is left that could run tasks. */
  onAllBlocksFailed(why: string): void;
  /** The clock (tests step it). @default Date.now */
  now?(): number;
  /** These blocks are cancelled or ended: their managers must get no more tasks. */
  blocksGone(blockIds: string[], why: string): void;
  /** Since when each connected block's managers have all been idle (undefined: busy). */
  blockIdleness(): Promise<Map<string, number | undefined>>;
  /** A block was submitted or changed state (monitoring). */
  onBlockState?(b: Block): void;
}

/** Submits, polls, scales and cancels blocks. */
export class BlockManager {
  readonly blocks = new Map<string, Block>();
  readonly #h: BlockHost;
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #idleSince: number | undefined;
  #stopped = false;
  #stepping = false;

  constructor(host: BlockHost) {
    this.#h = host;
  }

  /** Starts `initBlocks` now, then runs the strategy and the status poll periodically. */
  async start(): Promise<void> {
    await this.scaleOut(this.#h.provider.initBlocks);
    const period = this.#h.scaling.strategyPeriod * 1000;
    if (this.#h.scaling.strategy !== "none") this.#timer = setInterval(() => void this.strategize(), period).unref();
    this.#poll = setInterval(
      () =>
        void this.poll().catch((e: unknown) =>
          this.#h.logger.warn("block status poll failed", { error: e instanceof Error ? e.message : String(e) }),
        ),
      this.#h.provider.statusPollingInterval * 1000,
    ).unref();
  }

  /** Live (not terminal) blocks. */
  active(): Block[] {
    return [...this.blocks.values()].filter((b) => !TERMINAL_JOB_STATES.has(b.status.state));
  }

  async scaleOut(n: number): Promise<void> {
    for (let i = 0; i < n && !this.#stopped; i++) {
      const id = String(this.#next++);
      const block: Block = {
        id,
        jobId: undefined,
        status: { state: "pending" },
        connected: false,
        managers: 0,
      };
      this.blocks.set(id, block);
      try {
        block.jobId = await this.#h.provider.submit(this.#h.command(id), 1, `block-${id}`);
        this.#h.logger.info("block submitted", { block: id, job: block.jobId });
        this.#h.onBlockState?.(block);
      } catch (e) {
        block.status = { state: "failed", message: `submit failed: ${e instanceof Error ? e.message : String(e)}` };
        this.#h.logger.error("block submit failed", { block: id, error: block.status.message });
        this.#h.onBlockState?.(block);
        this.#checkAllFailed();
      }
    }
  }

  async scaleIn(blocks: Block[]): Promise<void> {
    const withJobs = blocks.filter((b) => b.jobId !== undefined);
    if (withJobs.length === 0) return;
    this.#h.blocksGone(
      withJobs.map((b) => b.id),
      "its block was cancelled",
    );
    await this.#h.provider.cancel(withJobs.map((b) => b.jobId!));
    for (const b of withJobs) {
      b.status = { state: "cancelled" };
      this.#h.logger.info("block cancelled", { block: b.id });
      this.#h.onBlockState?.(b);
    }
  }

  /** A manager of `blockId` connected or was lost. */
  managerEvent(blockId: string, event: "registered" | "lost"): void {
    const b = this.blocks.get(blockId);
    if (b === undefined) return;
    if (event === "registered") {
      b.connected = true;
      b.managers++;
    } else b.managers = Math.max(0, b.managers - 1);
  }

  async poll(): Promise<void> {
    const live = this.active().filter((b) => b.jobId !== undefined);
    if (live.length === 0 || this.#stopped) return;
    const st = await this.#h.provider.status(live.map((b) => b.jobId!));
    const ended: Block[] = [];
    live.forEach((b, i) => {
      const s = st[i]!;
      const changed = s.state !== b.status.state;
      if (changed) this.#h.logger.info("block state", { block: b.id, state: s.state, exitCode: s.exitCode });
      b.status = s;
      if (changed) this.#h.onBlockState?.(b);
      if (TERMINAL_JOB_STATES.has(s.state)) ended.push(b);
    });
    if (ended.length > 0 && !this.#stopped) {
      const b = ended[0]!;
      this.#h.blocksGone(
        ended.map((x) => x.id),
        `its block ended (${b.status.state}${b.status.exitCode !== undefined ? `, exit code ${b.status.exitCode}` : ""})`,
      );
    }
    this.#checkAllFailed();
  }

  #checkAllFailed(): void {
    const all = [...this.blocks.values()];
    if (all.length === 0 || this.active().length > 0 || all.some((b) => b.connected)) return;
    const last = all[all.length - 1]!;
    const st = last.status;
    const what = st.message ?? (st.exitCode !== undefined ? `exit code ${st.exitCode}` : "no exit code");
    this.#h.onAllBlocksFailed(
      `every block of this executor ended without its worker pool connecting (block ${last.id}: ${st.state}, ${what})`,
    );
  }

  /** One strategy step; steps never overlap (a slow submit must not make a second step count stale blocks). */
  async strategize(): Promise<void> {
    if (this.#stopped || this.#stepping) return;
    this.#stepping = true;
    try {
      await this.#step();
    } catch (e) {
      this.#h.logger.error("scaling step failed", { error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.#stepping = false;
    }
  }

  // Parsl's `_general_strategy`.
  async #step(): Promise<void> {
    const p = this.#h.provider;
    const tasks = this.#h.outstanding();
    const below = p.minBlocks - this.active().length;
    if (below > 0) await this.scaleOut(below);
    const active = this.active();
    const perBlock = Math.max(1, this.#h.workersPerNode() * p.nodesPerBlock);
    const slots = active.length * perBlock;
    const now = this.#h.now?.() ?? Date.now();
    if (tasks === 0) {
      if (active.length <= p.minBlocks) return;
      this.#idleSince ??= now;
      if (now - this.#idleSince > this.#h.scaling.maxIdleTime * 1000) {
        await this.scaleIn(active.slice(p.minBlocks));
        this.#idleSince = undefined;
      }
      return;
    }
    this.#idleSince = undefined;
    if (slots === 0 || slots / tasks < p.parallelism) {
      if (active.length >= p.maxBlocks) return;
      const want =
        slots === 0
          ? Math.max(1, Math.ceil((tasks * p.parallelism) / perBlock))
          : Math.ceil((tasks * p.parallelism - slots) / perBlock);
      await this.scaleOut(Math.min(Math.max(want, 1), p.maxBlocks - active.length));
    } else if (this.#h.scaling.strategy === "htex_auto_scale" && slots > tasks * p.parallelism) {
      const surplus = Math.floor((slots - tasks * p.parallelism) / perBlock);
      if (surplus <= 0 || active.length <= p.minBlocks) return;
      const idleness = await this.#h.blockIdleness();
      const idle = active.filter((b) => {
        const since = idleness.get(b.id);
        return b.connected && since !== undefined && now - since > this.#h.scaling.maxIdleTime * 1000;
      });
      const n = Math.min(surplus, active.length - p.minBlocks, idle.length);
      if (n > 0) await this.scaleIn(idle.slice(0, n));
    }
  }

  /** Cancels every block (cleanup). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#poll) clearInterval(this.#poll);
    await this.scaleIn(this.active());
  }
}
