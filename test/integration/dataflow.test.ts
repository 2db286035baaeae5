import { expect } from "chai";
import { load, dfk, DependencyError, NoKernelError, TaskloomError } from "taskloom";
import { executorCases, kernelForSuite } from "../helpers/executors.js";
import { rejection } from "../helpers/tmp.js";
import {
  add,
  double,
  fail,
  failWith,
  identity,
  sum,
  sumInputs,
  hostname,
  asyncAdd,
  takes,
  fileInfo,
  makeFile,
  returnsFunction,
  Maths,
  makeLateApp,
} from "../fixtures/apps.js";
import { File } from "taskloom";
import * as os from "node:os";

for (const ex of executorCases) {
  describe(`dataflow on ${ex.name}`, () => {
    const suite = kernelForSuite(ex);

    it("runs an app and resolves its future", async () => {
      const f = add(1, 2);
      expect(f.taskId).to.be.a("number");
      expect(await f).to.equal(3);
      expect(f.done()).to.equal(true);
      expect(f.status).to.equal("exec_done");
      expect(await f.result()).to.equal(3);
    });

    it("resolves futures at top level, in arrays, in plain objects and in inputs", async () => {
      expect(await add(add(1, 2), 3)).to.equal(6);
      expect(await sum(...[double(1), double(2), 3])).to.equal(9);
      expect(await identity([double(1), [double(2), "x"]])).to.deep.equal([2, [4, "x"]]);
      expect(await identity({ a: double(2), b: { c: double(3), d: null } })).to.deep.equal({
        a: 4,
        b: { c: 6, d: null },
      });
      expect(await sumInputs({ inputs: [double(1), 2, double(3)] })).to.equal(10);
      expect(await identity(Promise.resolve(7))).to.equal(7);
    });

    it("passes non-future values through unchanged", async () => {
      const v = {
        s: "str",
        n: 1.5,
        b: true,
        nul: null,
        nested: [1, [2, [3]]],
        date: new Date(0),
        big: 10n,
        map: new Map([[1, 2]]),
      };
      expect(await identity(v)).to.deep.equal(v);
    });

    it("does not mutate the caller's containers when it resolves futures", async () => {
      const arr = [double(1), 5];
      await identity(arr);
      expect(arr[0]).to.have.property("taskId");
    });

    it("runs a diamond DAG", async () => {
      const a = identity(1);
      const b = add(a, 1);
      const c = add(a, 3);
      const d = add(double(b), double(c));
      expect(await d).to.equal(2 * 2 + 2 * 4);
    });

    it("runs many parallel calls", async () => {
      const fs = Array.from({ length: 500 }, (_, i) => double(i));
      const out = await Promise.all(fs);
      expect(out).to.deep.equal(Array.from({ length: 500 }, (_, i) => 2 * i));
    });

    it("imports used at module level work inside app bodies", async () => {
      expect(await hostname()).to.equal(os.hostname());
    });

    it("runs async apps", async () => {
      expect(await asyncAdd(2, 3)).to.equal(5);
    });

    it("runs decorated static methods", async () => {
      expect(await Maths.square(7)).to.equal(49);
      expect(await Maths.square(Maths.square(2) as unknown as number)).to.equal(16);
    });

    it("gives Files to the app as Files", async () => {
      const info = await fileInfo(new File("/tmp/x/data.csv"));
      expect(info).to.deep.equal({ isFile: true, path: "/tmp/x/data.csv", name: "data.csv" });
      const f = await makeFile("/tmp/out.txt");
      expect(f).to.be.instanceOf(File);
      expect(f.filepath).to.equal("/tmp/out.txt");
    });

    it("revives built-in error classes and keeps name, message, code and stack of others", async () => {
      const r = await rejection(failWith("range"));
      expect(r).to.be.instanceOf(RangeError);
      expect((r as Error).message).to.equal("out of range");
      expect(await rejection(failWith("type"))).to.be.instanceOf(TypeError);
      const c = (await rejection(failWith("custom"))) as Error & { code: string };
      expect(c.name).to.equal("CustomError");
      expect(c.message).to.equal("custom failure");
      expect(c.code).to.equal("E_CUSTOM");
      expect(c.stack).to.contain("apps.ts");
    });

    it("propagates failures as DependencyError with taskIds and the root cause", async () => {
      const bad = fail("root");
      const mid = double(bad);
      const end = add(mid, 1);
      const e1 = (await rejection(mid)) as DependencyError;
      expect(e1).to.be.instanceOf(DependencyError);
      expect(e1.taskIds).to.deep.equal([bad.taskId]);
      expect((e1.cause as Error).message).to.equal("root");
      expect(e1.message).to.contain(`task ${bad.taskId}`);
      const e2 = (await rejection(end)) as DependencyError;
      expect(e2.taskIds).to.deep.equal([mid.taskId]);
      expect((e2.cause as Error).message).to.equal("root");
      expect(mid.status).to.equal("dep_fail");
    });

    it("fails through branches and counts each dependant once in dep_fail", async () => {
      const before = suite.kernel.taskStateCounts().dep_fail;
      const bad = fail("branch");
      const kids = [double(bad), double(bad), add(bad, bad)];
      for (const kid of kids) expect(await rejection(kid)).to.be.instanceOf(DependencyError);
      expect(suite.kernel.taskStateCounts().dep_fail - before).to.equal(3);
      const two = (await rejection(add(fail("x"), fail("y")))) as DependencyError;
      expect(two.taskIds).to.have.length(2);
      expect(two.errors).to.have.length(2);
    });

    it("a failed plain promise is a failed dependency", async () => {
      const e = (await rejection(identity(Promise.reject(new Error("promise failed"))))) as DependencyError;
      expect(e).to.be.instanceOf(DependencyError);
      expect((e.cause as Error).message).to.equal("promise failed");
    });

    it("reports a clear error for arguments that cannot be sent to a worker", async () => {
      const e = (await rejection(takes(() => 1))) as TaskloomError;
      expect(e.code).to.equal("TASKLOOM_SERIALIZATION");
      expect(e.message).to.contain("takes");
      expect(await takes(1)).to.equal("number");
    });

    it("reports a clear error for results that cannot be sent back", async () => {
      const e = (await rejection(returnsFunction())) as TaskloomError;
      expect(e.code).to.equal("TASKLOOM_SERIALIZATION");
      expect(e.message).to.contain("returnsFunction");
    });

    it("runs a 10,000-long dependency chain without growing the stack", async () => {
      let f = identity(0);
      for (let i = 0; i < 10_000; i++) f = add(f, 1);
      expect(await f).to.equal(10_000);
    });

    it("fails a 10,000-long chain from its root without growing the stack", async () => {
      let f = fail("root of chain");
      for (let i = 0; i < 10_000; i++) f = add(f, 1);
      const e = (await rejection(f)) as DependencyError;
      expect((e.cause as Error).message).to.equal("root of chain");
    });

    it("keeps task state counts and releases finished tasks", async () => {
      const c0 = suite.kernel.taskStateCounts();
      const fs = Array.from({ length: 100 }, (_, i) => double(i));
      expect(suite.kernel.tasks.size).to.be.greaterThan(0);
      await Promise.all(fs);
      const c1 = suite.kernel.taskStateCounts();
      expect(c1.exec_done - c0.exec_done).to.equal(100);
      expect(suite.kernel.tasks.size).to.equal(0);
      expect(c1.pending).to.equal(0);
    });

    it("waitForCurrentTasks waits for everything submitted", async () => {
      const fs = Array.from({ length: 50 }, (_, i) => asyncAdd(i, 1));
      await suite.kernel.waitForCurrentTasks();
      expect(fs.every((f) => f.done())).to.equal(true);
    });

    it("dfk() returns the loaded kernel and a second load() is a clear error", async () => {
      expect(dfk()).to.equal(suite.kernel);
      const e = (await rejection(load())) as TaskloomError;
      expect(e.code).to.equal("TASKLOOM_CONFIG");
      expect(e.message).to.contain("already loaded");
    });

    it("an app made after its module loaded fails with AppNotFoundError saying what to do", async () => {
      const late = makeLateApp();
      const e = (await rejection(late(1))) as TaskloomError;
      expect(e.code).to.equal("TASKLOOM_APP_NOT_FOUND");
      expect(e.message).to.contain("top level of a module");
    });

    it("rejects bad call options with a clear error", async () => {
      const e = (await rejection(sumInputs({ inputs: [1], walltime: -1 } as never))) as TaskloomError;
      expect(e.code).to.equal("TASKLOOM_CONFIG");
      expect(e.message).to.match(/walltime: expected a number of seconds > 0, got -1 \(number\)/);
    });
  });
}

describe("without a kernel", () => {
  it("an app call rejects with NoKernelError and dfk() throws it", async () => {
    expect(await rejection(add(1, 2))).to.be.instanceOf(NoKernelError);
    expect(() => dfk()).to.throw(NoKernelError);
  });
});
