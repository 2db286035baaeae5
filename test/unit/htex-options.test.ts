// HighThroughputExecutor options: every bad value named with what is allowed; workers per node as managers compute it.
import { expect } from "chai";
import { ConfigError, HighThroughputExecutor, LocalProvider, type HighThroughputOptions } from "taskloom";

describe("HighThroughputExecutor options", () => {
  it("rejects bad options, naming the option and what is allowed", () => {
    const bad: [unknown, RegExp][] = [
      [{ maxWorkers: 2 }, /options.maxWorkers: unknown option; allowed: label, provider, maxWorkersPerNode/],
      [{ maxWorkersPerNode: 0 }, /options.maxWorkersPerNode: expected an integer >= 1, got 0/],
      [{ coresPerWorker: -1 }, /options.coresPerWorker: expected a number >= 0.001, got -1/],
      [{ heartbeatThreshold: "2m" }, /options.heartbeatThreshold: expected a number >= 0.01, got '2m'|"2m"/],
      [{ availableAccelerators: [0, 1] }, /options.availableAccelerators: expected a count or an array of ids/],
      [{ address: "10.0.0.1 " }, /options.address: expected a non-empty string without spaces/],
      [{ label: "" }, /options.label: expected a non-empty string without spaces/],
      [{ provider: { initBlocks: 1 } }, /options.provider: expected a provider \(e.g. new LocalProvider\(\)\)/],
      [{ workerPort: 1.5 }, /options.workerPort: expected an integer >= 0, got 1.5/],
      ["fast", /HighThroughputExecutor\(options\): expected an object, got 'fast'|"fast"/],
    ];
    for (const [opts, msg] of bad) {
      expect(() => new HighThroughputExecutor(opts as HighThroughputOptions), JSON.stringify(opts)).to.throw(
        ConfigError,
        msg,
      );
    }
  });

  it("computes workers per node from cores, memory, accelerators and the cap, at least one", () => {
    const cores = new LocalProvider().coresPerNode;
    expect(new HighThroughputExecutor().workersPerNode()).to.equal(cores);
    expect(new HighThroughputExecutor({ maxWorkersPerNode: 1 }).workersPerNode()).to.equal(1);
    expect(new HighThroughputExecutor({ coresPerWorker: cores * 4 }).workersPerNode()).to.equal(1);
    expect(new HighThroughputExecutor({ availableAccelerators: ["a"] }).workersPerNode()).to.equal(1);
    const mem = new LocalProvider().memPerNode;
    expect(new HighThroughputExecutor({ memPerWorker: mem, maxWorkersPerNode: 64 }).workersPerNode()).to.equal(1);
    expect(new HighThroughputExecutor({ availableAccelerators: 3 }).options.accelerators).to.deep.equal([
      "0",
      "1",
      "2",
    ]);
  });
});
