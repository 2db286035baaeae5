// The block scaling strategy's arithmetic (Parsl's `_general_strategy`), against an in-memory provider that records
// what it was asked; the same strategy drives real LocalProvider blocks in htex-scaling.test.ts.
import { expect } from "chai";
import { BlockManager, type BlockHost } from "../../executors/htex/blocks.js";
import type { ScalingSettings } from "../../executors/executor.js";
import type { JobStatus, Provider } from "../../providers/provider.js";
import { nullLogger } from "../../lib/logging.js";

class RecordingProvider implements Provider {
  readonly label = "recording";
  readonly coresPerNode = 4;
  readonly memPerNode = 1024;
  readonly statusPollingInterval = 3600;
  readonly jobs = new Map<string, JobStatus>();
  submitted = 0;
  failSubmit = false;
  constructor(
    readonly initBlocks = 0,
    readonly minBlocks = 0,
    readonly maxBlocks = 10,
    readonly parallelism = 1,
    readonly nodesPerBlock = 1,
  ) {}
  start(): Promise<void> {
    return Promise.resolve();
  }
  submit(): Promise<string> {
    if (this.failSubmit) return Promise.reject(new Error("sbatch: error: invalid partition"));
    const id = String(++this.submitted);
    this.jobs.set(id, { state: "running" });
    return Promise.resolve(id);
  }
  status(ids: readonly string[]): Promise<JobStatus[]> {
    return Promise.resolve(ids.map((id) => this.jobs.get(id) ?? { state: "unknown" }));
  }
  cancel(ids: readonly string[]): Promise<boolean[]> {
    for (const id of ids) this.jobs.set(id, { state: "cancelled" });
    return Promise.resolve(ids.map(() => true));
  }
  get running(): number {
    return [...this.jobs.values()].filter((s) => s.state === "running").length;
  }
}

function manager(
  p: RecordingProvider,
  o: { tasks?: number; workers?: number; strategy?: ScalingSettings["strategy"]; maxIdleTime?: number } = {},
): {
  bm: BlockManager;
  set: (k: "tasks" | "clock", v: number) => void;
  gone: string[][];
  failed: string[];
  idle: Map<string, number | undefined>;
} {
  const st = { tasks: o.tasks ?? 0, clock: 1_000_000 };
  const gone: string[][] = [];
  const failed: string[] = [];
  const idle = new Map<string, number | undefined>();
  const host: BlockHost = {
    provider: p,
    logger: nullLogger,
    scaling: { strategy: o.strategy ?? "simple", strategyPeriod: 3600, maxIdleTime: o.maxIdleTime ?? 10 },
    workersPerNode: () => o.workers ?? 2,
    outstanding: () => st.tasks,
    command: (id) => `worker-pool --block ${id}`,
    onAllBlocksFailed: (why) => failed.push(why),
    blocksGone: (ids) => gone.push(ids),
    blockIdleness: () => Promise.resolve(idle),
    now: () => st.clock,
  };
  return { bm: new BlockManager(host), set: (k, v) => (st[k] = v), gone, failed, idle };
}

describe("block scaling strategy", () => {
  it("starts initBlocks at once", async () => {
    const p = new RecordingProvider(3);
    const { bm } = manager(p);
    await bm.start();
    await bm.stop();
    expect(p.submitted).to.equal(3);
  });

  it("scales out ceil((tasks × parallelism − slots) / slots per block) blocks", async () => {
    const p = new RecordingProvider(1);
    const { bm } = manager(p, { tasks: 10, workers: 2 });
    await bm.scaleOut(1);
    await bm.strategize();
    expect(p.submitted).to.equal(1 + Math.ceil((10 - 2) / 2));
  });

  it("provisions for a fraction of the tasks with parallelism < 1, and one block at parallelism 0", async () => {
    const half = new RecordingProvider(0, 0, 10, 0.5);
    const a = manager(half, { tasks: 10, workers: 2 });
    await a.bm.strategize();
    expect(half.submitted).to.equal(Math.ceil((10 * 0.5) / 2));
    const zero = new RecordingProvider(0, 0, 10, 0);
    const b = manager(zero, { tasks: 10, workers: 2 });
    await b.bm.strategize();
    expect(zero.submitted).to.equal(1);
  });

  it("never goes past maxBlocks and counts nodes per block", async () => {
    const p = new RecordingProvider(0, 0, 3, 1, 2);
    const { bm } = manager(p, { tasks: 1000, workers: 2 });
    await bm.strategize();
    await bm.strategize();
    expect(p.submitted).to.equal(3);
    const q = new RecordingProvider(0, 0, 10, 1, 2);
    await manager(q, { tasks: 9, workers: 2 }).bm.strategize();
    expect(q.submitted).to.equal(Math.ceil(9 / 4));
  });

  it("does not oscillate: blocks still pending count as slots, so repeated steps add nothing", async () => {
    const p = new RecordingProvider(0);
    const { bm } = manager(p, { tasks: 8, workers: 2 });
    for (let i = 0; i < 5; i++) await bm.strategize();
    expect(p.submitted).to.equal(4);
  });

  it("steps never overlap", async () => {
    const p = new RecordingProvider(0);
    const { bm } = manager(p, { tasks: 8, workers: 2 });
    await Promise.all([bm.strategize(), bm.strategize(), bm.strategize()]);
    expect(p.submitted).to.equal(4);
  });

  it("scales in to minBlocks only after no task for maxIdleTime, telling the interchange first", async () => {
    const p = new RecordingProvider(0, 1);
    const m = manager(p, { tasks: 6, workers: 2, maxIdleTime: 10 });
    await m.bm.strategize();
    expect(p.running).to.equal(3);
    m.set("tasks", 0);
    await m.bm.strategize();
    m.set("clock", 1_000_000 + 9_000);
    await m.bm.strategize();
    expect(p.running).to.equal(3);
    m.set("clock", 1_000_000 + 10_001);
    await m.bm.strategize();
    expect(p.running).to.equal(1);
    expect(m.gone).to.deep.equal([["1", "2"]]);
  });

  it("a task arriving resets the idle clock", async () => {
    const p = new RecordingProvider(2);
    const m = manager(p, { tasks: 0, workers: 2, maxIdleTime: 10 });
    await m.bm.scaleOut(2);
    await m.bm.strategize();
    m.set("clock", 1_000_000 + 8_000);
    m.set("tasks", 1);
    await m.bm.strategize();
    m.set("tasks", 0);
    await m.bm.strategize();
    m.set("clock", 1_000_000 + 12_000);
    await m.bm.strategize();
    expect(p.running).to.equal(2);
  });

  it("submits again when blocks ended below minBlocks", async () => {
    const p = new RecordingProvider(0, 2);
    const { bm } = manager(p);
    await bm.strategize();
    expect(p.running).to.equal(2);
    p.jobs.set("1", { state: "failed", exitCode: 1 });
    await bm.poll();
    await bm.strategize();
    expect(p.running).to.equal(2);
    expect(p.submitted).to.equal(3);
  });

  it("htex_auto_scale trims surplus blocks while busy, only those idle past maxIdleTime", async () => {
    const p = new RecordingProvider(0);
    const m = manager(p, { tasks: 8, workers: 2, strategy: "htex_auto_scale", maxIdleTime: 10 });
    await m.bm.strategize();
    for (const id of ["0", "1", "2", "3"]) m.bm.managerEvent(id, "registered");
    m.set("tasks", 3);
    m.idle
      .set("0", undefined)
      .set("1", 1_000_000 - 20_000)
      .set("2", 1_000_000 - 5_000)
      .set("3", 1_000_000 - 30_000);
    await m.bm.strategize();
    // 8 slots for 3 tasks: surplus floor(5/2) = 2 blocks, and 1 and 3 are the ones idle past 10 s.
    expect(p.running).to.equal(2);
    expect(m.gone).to.deep.equal([["1", "3"]]);
  });

  it("simple leaves busy surplus alone", async () => {
    const p = new RecordingProvider(0);
    const m = manager(p, { tasks: 8, workers: 2 });
    await m.bm.strategize();
    m.set("tasks", 1);
    await m.bm.strategize();
    expect(p.running).to.equal(4);
  });

  it("reports when every block failed to start, with the provider's error", async () => {
    const p = new RecordingProvider(1);
    p.failSubmit = true;
    const m = manager(p);
    await m.bm.start();
    await m.bm.stop();
    expect(m.failed).to.have.length(1);
    expect(m.failed[0]).to.match(/submit failed: sbatch: error: invalid partition/);
  });

  it("cancels every block at stop", async () => {
    const p = new RecordingProvider(0);
    const { bm } = manager(p, { tasks: 6, workers: 2 });
    await bm.strategize();
    await bm.stop();
    expect(p.running).to.equal(0);
  });
});
