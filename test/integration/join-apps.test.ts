import { expect } from "chai";
import { JoinError, DependencyError } from "taskloom";
import { executorCases, kernelForSuite } from "../helpers/executors.js";
import { rejection } from "../helpers/tmp.js";
import { double, add, joinOne, joinMany, joinEmpty, joinBad, joinFails, fib } from "../fixtures/apps.js";

for (const ex of executorCases) {
  describe(`join apps on ${ex.name}`, () => {
    kernelForSuite(ex);

    it("a join returning one future resolves to its value", async () => {
      expect(await joinOne(21)).to.equal(42);
    });

    it("a join returning an array of futures resolves to their values in order", async () => {
      expect(await joinMany([1, 2, 3])).to.deep.equal([2, 4, 6]);
    });

    it("a join returning [] resolves to []", async () => {
      expect(await joinEmpty()).to.deep.equal([]);
    });

    it("a join returning something else fails with a clear TypeError", async () => {
      const e = (await rejection(joinBad())) as Error;
      expect(e).to.be.instanceOf(TypeError);
      expect(e.message).to.contain("must return a future or an array of futures");
      expect(e.message).to.contain("3");
    });

    it("inner failures give JoinError with one error per failed future", async () => {
      const e = (await rejection(joinFails())) as JoinError;
      expect(e).to.be.instanceOf(JoinError);
      expect(e.errors.map((x) => (x as Error).message)).to.deep.equal(["Error A", "Error B"]);
      expect(e.taskIds).to.have.length(2);
    });

    it("a dependant of a failed join gets DependencyError", async () => {
      expect(await rejection(double(joinFails() as never))).to.be.instanceOf(DependencyError);
    });

    it("apps can depend on a join", async () => {
      expect(await add(joinOne(1), 1)).to.equal(3);
    });

    it("recursive joins work (fibonacci)", async () => {
      expect(await fib(0)).to.equal(0);
      expect(await fib(4)).to.equal(3);
      expect(await fib(10)).to.equal(55);
    });
  });
}
