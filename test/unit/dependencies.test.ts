import { expect } from "chai";
import { resolveDeps, scanDeps, type Dependency } from "../../lib/dataflow/dependencies.js";
import { AppFuture } from "../../lib/future.js";

function settled<T>(id: number, ok: boolean, v: T): AppFuture<T> {
  const f = new AppFuture<T>(id, undefined);
  f._finish(ok ? "exec_done" : "failed", ok, v);
  return f;
}

describe("dependency scanning and resolution", () => {
  it("finds futures at top level, in arrays and plain objects, not in class instances", () => {
    const a = settled(1, true, 1);
    const found: Dependency[] = [];
    class Box {
      constructor(readonly f: unknown) {}
    }
    const n = scanDeps([a, [a, { x: a, y: [a] }], new Box(a), new Map([[1, a]]), Promise.resolve(1)], (d) =>
      found.push(d),
    );
    expect(n).to.equal(5);
    expect(found.filter((d) => d === a)).to.have.length(4);
  });
  it("replaces futures by values and copies only containers that held one", () => {
    const a = settled(1, true, 10);
    const untouched = { k: [1, 2] };
    const args = [a, [a, "s"], { v: a, keep: untouched }, untouched];
    const out = resolveDeps(args, undefined, () => {}) as unknown[];
    expect(out).to.deep.equal([10, [10, "s"], { v: 10, keep: { k: [1, 2] } }, { k: [1, 2] }]);
    expect(out[3]).to.equal(untouched);
    expect(args[0]).to.equal(a);
  });
  it("reports each failed dependency", () => {
    const bad = settled(7, false, new Error("x"));
    const failed: unknown[] = [];
    resolveDeps([bad, { b: bad }], undefined, (_d, e) => failed.push(e));
    expect(failed).to.have.length(2);
  });
});
