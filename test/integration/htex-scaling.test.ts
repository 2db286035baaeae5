// Blocks of real LocalProvider processes scaled by the strategy: out under load, in when idle, all gone at cleanup.
import { expect } from "chai";
import * as path from "node:path";
import { load, HighThroughputExecutor, LocalProvider, type DataFlowKernel } from "taskloom";
import { childrenOf, processGone, tmpDir, until } from "../helpers/tmp.js";
import { span, whereAmI } from "../fixtures/htex-apps.js";

describe("HighThroughputExecutor scaling with LocalProvider", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  afterEach(async () => {
    await k?.cleanup();
    k = undefined;
  });
  after(() => tmp.remove());
  const liveBlocks = (): number[] => childrenOf(process.pid, "submit_scripts");

  it("scales out to maxBlocks under load, in to minBlocks when idle, out again for new work, and cancels all at cleanup", async () => {
    k = await load({
      executors: [
        new HighThroughputExecutor({
          maxWorkersPerNode: 1,
          provider: new LocalProvider({ initBlocks: 1, minBlocks: 0, maxBlocks: 2 }),
        }),
      ],
      runDir: path.join(tmp.dir, "run"),
      initializeLogging: false,
      strategyPeriod: 0.1,
      maxIdleTime: 0.5,
    });
    const busy = await Promise.all([1, 2, 3, 4, 5, 6].map(() => span(400)));
    expect(new Set(busy.map((b) => b.pid)).size).to.equal(2);
    expect(await until(() => liveBlocks().length === 0, 10_000), "idle blocks cancelled").to.equal(true);
    const again = await whereAmI();
    expect(again.block).to.equal("2");
    const manager = again.ppid;
    await k.cleanup();
    k = undefined;
    expect(liveBlocks()).to.deep.equal([]);
    expect(await until(() => processGone(manager) && processGone(again.pid), 5000)).to.equal(true);
  });

  it("with strategy none keeps initBlocks and never adds one", async () => {
    k = await load({
      executors: [
        new HighThroughputExecutor({
          maxWorkersPerNode: 1,
          provider: new LocalProvider({ initBlocks: 1, maxBlocks: 3 }),
        }),
      ],
      runDir: path.join(tmp.dir, "run-none"),
      initializeLogging: false,
      strategy: "none",
      strategyPeriod: 0.1,
    });
    const runs = await Promise.all([1, 2, 3, 4].map(() => span(200)));
    expect(new Set(runs.map((r) => r.pid)).size).to.equal(1);
    expect(liveBlocks()).to.have.length(1);
  });
});
