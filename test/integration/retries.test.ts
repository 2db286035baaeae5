import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { load, ShellExitError, type DataFlowKernel, type Config } from "taskloom";
import { executorCases } from "../helpers/executors.js";
import { rejection, tmpDir } from "../helpers/tmp.js";
import { fail, flaky, shell, double } from "../fixtures/apps.js";

for (const ex of executorCases) {
  describe(`retries on ${ex.name}`, () => {
    const tmp = tmpDir();
    let k: DataFlowKernel | undefined;
    const start = async (cfg: Config): Promise<DataFlowKernel> =>
      (k = await load({ executors: ex.make(), runDir: tmp.dir, initializeLogging: false, ...cfg }));
    afterEach(async () => {
      await k?.cleanup();
      k = undefined;
    });
    after(() => tmp.remove());
    const counter = (name: string): string => path.join(tmp.dir, name);

    it("retries a failing task until it succeeds within the budget", async () => {
      await start({ retries: 2 });
      expect(await flaky(counter("c1"), 3)).to.equal(3);
      expect(fs.readFileSync(counter("c1"), "utf8")).to.equal("3");
    });

    it("fails with the original error when the budget is used up", async () => {
      await start({ retries: 2 });
      const e = (await rejection(flaky(counter("c2"), 10))) as Error;
      expect(e.message).to.equal("attempt 3 failed");
      expect(fs.readFileSync(counter("c2"), "utf8")).to.equal("3");
      const always = (await rejection(fail("always"))) as Error;
      expect(always.message).to.equal("always");
    });

    it("retries a shell app that fails once", async () => {
      await start({ retries: 1 });
      const marker = counter("once");
      expect(await shell(`if [ -e ${marker} ]; then exit 0; else touch ${marker}; exit 5; fi`)).to.equal(0);
    });

    it("a retryHandler's cost decides the number of tries (cost 0.5, retries 2: 5 tries)", async () => {
      await start({ retries: 2, retryHandler: () => 0.5 });
      expect(await flaky(counter("c3"), 5)).to.equal(5);
      const e = (await rejection(flaky(counter("c4"), 6))) as Error;
      expect(e.message).to.equal("attempt 5 failed");
    });

    it("a retryHandler that throws ends the task with its error", async () => {
      await start({
        retries: 5,
        retryHandler: () => {
          throw new RangeError("handler says no");
        },
      });
      const e = (await rejection(fail("x"))) as Error;
      expect(e).to.be.instanceOf(RangeError);
      expect(e.message).to.equal("handler says no");
    });

    it("app-level retries override the config", async () => {
      await start({ retries: 0 });
      const e = (await rejection(shell("exit 4"))) as ShellExitError;
      expect(e.exitCode).to.equal(4);
      expect(await double(2)).to.equal(4);
    });
  });
}
