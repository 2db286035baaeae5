import { expect } from "chai";
import { findCallOptions, parseCallOptions } from "../../lib/call-options.js";
import { ConfigError } from "../../lib/errors.js";
import { File } from "../../lib/file.js";

describe("call options", () => {
  it("recognises a trailing plain object with a reserved key only", () => {
    expect(findCallOptions([1, { walltime: 2 }])).to.deep.equal({ walltime: 2 });
    expect(findCallOptions([1, { other: 2 }])).to.equal(undefined);
    expect(findCallOptions([{ walltime: 2 }, 1])).to.equal(undefined);
    expect(findCallOptions([new Map()])).to.equal(undefined);
  });
  it("normalises streams, outputs and resources", () => {
    const p = parseCallOptions(
      "f",
      { stdout: "o.txt", stderr: ["e.txt", "w"], outputs: ["a", new File("/b")], resources: { cores: 2 } },
      { memory: 100 },
    );
    expect(p.stdout).to.deep.equal(["o.txt", "a"]);
    expect(p.stderr).to.deep.equal(["e.txt", "w"]);
    expect(p.outputs.map((f) => f.filepath)).to.deep.equal(["a", "/b"]);
    expect(p.resources).to.deep.equal({ memory: 100, cores: 2 });
  });
  it("names the bad option, the value and what is allowed", () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ walltime: 0 }, /walltime: expected a number of seconds > 0, got 0 \(number\)/],
      [{ stdout: ["x", "r"] }, /stdout: expected a path string or \[path, "a" \| "w"\], got \["x","r"\] \(array\)/],
      [{ stdout: ["x"] }, /stdout: expected/],
      [{ outputs: "x" }, /outputs: expected an array of File/],
      [{ resources: { cpus: 1 } }, /unknown key "cpus"; allowed: cores, memory, disk, gpus, numNodes, ranksPerNode/],
      [{ resources: { numNodes: 1.5 } }, /numNodes: expected an integer >= 0, got 1.5/],
      [{ priority: "high" }, /priority: expected a finite number, got "high" \(string\)/],
    ];
    for (const [o, re] of bad)
      expect(() => parseCallOptions("f", o, undefined), JSON.stringify(o)).to.throw(ConfigError, re);
  });
});
