import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { TaskCancelledError, DependencyError, AppTimeoutError, WorkerLostError } from "taskloom";
import { executorCases, kernelForSuite } from "../helpers/executors.js";
import { processGone, rejection, until } from "../helpers/tmp.js";
import { busyLoop, double, sleep, shell, add, killWorker } from "../fixtures/apps.js";

for (const ex of executorCases) {
  describe(`cancel and walltime on ${ex.name}`, () => {
    const suite = kernelForSuite(ex);

    it("cancels a task that has not launched; dependants fail with DependencyError", async () => {
      const gate = sleep(200);
      const waiting = double(gate);
      const dependant = add(waiting, 1);
      expect(waiting.cancel()).to.equal(true);
      expect(await rejection(waiting)).to.be.instanceOf(TaskCancelledError);
      expect(waiting.status).to.equal("cancelled");
      const e = (await rejection(dependant)) as DependencyError;
      expect(e).to.be.instanceOf(DependencyError);
      expect(e.cause).to.be.instanceOf(TaskCancelledError);
      expect(await gate).to.equal(200);
      expect(waiting.cancel()).to.equal(false);
    });

    it("cancel() of a finished task returns false", async () => {
      const f = double(1);
      await f;
      expect(f.cancel()).to.equal(false);
    });

    if (!ex.stopsRunningTasks) return;

    it("a JS app over its walltime rejects with AppTimeoutError and its thread is replaced", async () => {
      const t0 = Date.now();
      const e = await rejection(busyLoop(60_000, { walltime: 0.3 } as never));
      expect(e).to.be.instanceOf(AppTimeoutError);
      expect(Date.now() - t0).to.be.lessThan(10_000);
      // Both threads still serve tasks afterwards.
      const out = await Promise.all([busyLoop(50), busyLoop(50), double(4)]);
      expect(out[2]).to.equal(8);
    });

    it("a task that kills its worker fails with WorkerLostError, every time, and the pool recovers", async () => {
      for (let i = 0; i < 3; i++) expect(await rejection(killWorker())).to.be.instanceOf(WorkerLostError);
      expect(await Promise.all([double(1), double(2), double(3)])).to.deep.equal([2, 4, 6]);
    });

    it("a walltime long enough lets the app finish", async () => {
      expect(await sleep(20, { walltime: 5 } as never)).to.equal(20);
    });

    it("cancels a running busy-looping task by stopping its thread", async () => {
      const f = busyLoop(60_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(f.cancel()).to.equal(true);
      expect(await rejection(f)).to.be.instanceOf(TaskCancelledError);
      const out = await Promise.all([double(1), double(2), busyLoop(20), busyLoop(20)]);
      expect(out.slice(0, 2)).to.deep.equal([2, 4]);
    });

    it("cancels a running shell task by killing its process group", async () => {
      const pidFile = path.join(suite.dir, "cancel.pid");
      const f = shell(`sleep 60 & echo $! > ${pidFile}; wait`);
      expect(await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "")).to.equal(
        true,
      );
      const pid = Number(fs.readFileSync(pidFile, "utf8"));
      expect(f.cancel()).to.equal(true);
      expect(await rejection(f)).to.be.instanceOf(TaskCancelledError);
      expect(await until(() => processGone(pid), 3000), "sleep survived cancel").to.equal(true);
    });
  });
}
