import { expect } from "chai";
import { ConfigError, HighThroughputExecutor, ThreadPoolExecutor } from "taskloom";

describe("executor staging options", () => {
  it("default to in-task staging in the node's temp dir, and take a mode and a dir", () => {
    expect(new ThreadPoolExecutor().staging).to.deep.equal({ mode: "in-task", dir: undefined });
    const h = new HighThroughputExecutor({ staging: { mode: "separate-task", dir: "shared/stage" } });
    expect(h.staging.mode).to.equal("separate-task");
    expect(h.staging.dir).to.match(/^\/.*\/shared\/stage$/);
  });
  it("name what is wrong and what is allowed", () => {
    expect(() => new ThreadPoolExecutor({ staging: { mode: "eager" as never } })).to.throw(
      ConfigError,
      /ThreadPoolExecutor options\.staging\.mode: expected "in-task" or "separate-task", got "eager"/,
    );
    expect(() => new HighThroughputExecutor({ staging: { cache: true } as never })).to.throw(
      ConfigError,
      /HighThroughputExecutor options\.staging\.cache: unknown option; allowed: mode, dir/,
    );
    expect(() => new ThreadPoolExecutor({ staging: "in-task" as never })).to.throw(
      ConfigError,
      /expected \{ mode\?, dir\? \}/,
    );
    expect(() => new ThreadPoolExecutor({ staging: { dir: "" } })).to.throw(
      ConfigError,
      /staging\.dir: expected a directory path/,
    );
  });
});
