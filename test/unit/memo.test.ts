import { expect } from "chai";
import { memoHash, MemoTable } from "../../lib/dataflow/memo.js";
import { SerializationError } from "../../lib/errors.js";
import { File } from "../../lib/file.js";

const h = (args: unknown[], ignore: (string | number)[] = [], key = "m#f"): string => memoHash(key, args, ignore);

describe("memo hash", () => {
  it("is equal for equal arguments and stable across calls", () => {
    expect(h([1, "a", [true, null], { x: 1n }])).to.equal(h([1, "a", [true, null], { x: 1n }]));
    expect(h([1])).to.match(/^[0-9a-f]{64}$/);
  });
  it("tells apart values that print alike", () => {
    const variants: unknown[][] = [
      [1],
      ["1"],
      [1n],
      [true],
      [null],
      [undefined],
      [[1]],
      [{ 0: 1 }],
      [-0],
      [0],
      [NaN],
      [[]],
      [{}],
      ["a", "b"],
      ["ab"],
      [new Date(1)],
      [new Uint8Array([1])],
      [new Uint16Array([1])],
      [/a/g],
      [/a/],
    ];
    const hashes = new Set(variants.map((v) => h(v)));
    expect(hashes.size).to.equal(variants.length);
  });
  it("depends on the app identity", () => {
    expect(h([1], [], "m#f")).not.to.equal(h([1], [], "m#g"));
  });
  it("ignores key order of plain objects and insertion order of Maps and Sets", () => {
    expect(h([{ a: 1, b: 2 }])).to.equal(h([{ b: 2, a: 1 }]));
    expect(
      h([
        new Map([
          [1, "x"],
          [2, "y"],
        ]),
      ]),
    ).to.equal(
      h([
        new Map([
          [2, "y"],
          [1, "x"],
        ]),
      ]),
    );
    expect(h([new Set([1, 2])])).to.equal(h([new Set([2, 1])]));
    expect(h([new Set([1, 2])])).not.to.equal(h([new Set([1, 3])]));
  });
  it("hashes Files by URL, not by where they were staged", () => {
    const a = new File("/data/x.csv");
    const b = new File("/data/x.csv").stagedAt("/scratch/x.csv");
    expect(h([a])).to.equal(h([b]));
    expect(h([a])).not.to.equal(h([new File("/data/y.csv")]));
  });
  it("leaves out ignored positions and call-option keys", () => {
    expect(h([1, 2], [1])).to.equal(h([1, 3], [1]));
    expect(h([1, 2], [1])).not.to.equal(h([2, 2], [1]));
    expect(h([1, { stdout: "a", walltime: 1 }], ["stdout"])).to.equal(h([1, { stdout: "b", walltime: 1 }], ["stdout"]));
    expect(h([1, { stdout: "a", walltime: 1 }], ["stdout"])).not.to.equal(
      h([1, { stdout: "a", walltime: 2 }], ["stdout"]),
    );
  });
  it("refuses values with no stable identity, naming where and what", () => {
    class Widget {}
    expect(() => h([1, { opts: { w: new Widget() } }])).to.throw(
      SerializationError,
      /argument 1\.opts\.w.*Widget.*hashable: string/,
    );
    expect(() => h([() => 1])).to.throw(SerializationError, /argument 0.*function/);
    expect(() => h([Symbol("s")])).to.throw(SerializationError, /symbol/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => h([cyclic])).to.throw(SerializationError, /cycle/);
  });
  it("allows the same object twice when it is not a cycle", () => {
    const shared = { a: 1 };
    expect(() => h([shared, shared, [shared]])).not.to.throw();
  });
});

describe("MemoTable", () => {
  it("keeps successes and failures, and preloads successes", () => {
    const t = new MemoTable();
    const err = new Error("x");
    t.set("a", true, 1);
    t.set("b", false, err);
    t.preload(new Map([["c", 3]]));
    expect(t.get("a")).to.deep.equal({ ok: true, value: 1 });
    expect(t.get("b")!.value).to.equal(err);
    expect(t.get("c")).to.deep.equal({ ok: true, value: 3 });
    expect(t.size).to.equal(3);
  });
});
