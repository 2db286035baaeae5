import { expect } from "chai";
import { load, ThreadPoolExecutor, type Config } from "taskloom";
import { tmpDir } from "../helpers/tmp.js";
import { whichThread, double, sleep } from "../fixtures/apps.js";

describe("ThreadPoolExecutor", () => {
  const tmp = tmpDir();
  after(() => tmp.remove());

  it("never runs more tasks at once than maxThreads, on threads of this process", async () => {
    const k = await load({
      executors: [new ThreadPoolExecutor({ maxThreads: 2 })],
      runDir: tmp.dir,
      initializeLogging: false,
    });
    try {
      const runs = await Promise.all(Array.from({ length: 8 }, () => whichThread(60)));
      expect(new Set(runs.map((r) => r.threadId)).size).to.equal(2);
      expect(runs.every((r) => r.pid === process.pid)).to.equal(true);
      const events = runs
        .flatMap(
          (r) =>
            [
              [r.start, 1],
              [r.end, -1],
            ] as const,
        )
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let now = 0;
      let most = 0;
      for (const [, d] of events) most = Math.max(most, (now += d));
      expect(most).to.be.at.most(2);
    } finally {
      await k.cleanup();
    }
  });

  it("does not mutate the config it was given", async () => {
    const cfg: Config = {
      executors: [new ThreadPoolExecutor({ maxThreads: 1 })],
      runDir: tmp.dir,
      initializeLogging: false,
      retries: 1,
    };
    const before = { ...cfg, executors: [...cfg.executors!] };
    const k = await load(cfg);
    await double(1);
    await k.cleanup();
    expect(cfg).to.deep.equal(before);
  });

  it('exitMode "wait" waits for tasks at dispose; "cleanup" cancels them', async () => {
    const k = await load({ runDir: tmp.dir, initializeLogging: false, exitMode: "wait" });
    const f = sleep(100);
    await k[Symbol.asyncDispose]();
    expect(f.status).to.equal("exec_done");
    const k2 = await load({ runDir: tmp.dir, initializeLogging: false });
    const g = sleep(5_000);
    await k2[Symbol.asyncDispose]();
    expect(g.status).to.equal("cancelled");
  });
});
