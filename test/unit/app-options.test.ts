import { expect } from "chai";
import { app, shellApp, ConfigError } from "taskloom";

describe("app options", () => {
  it("rejects walltime as an app option and says where it goes", () => {
    expect(() => app((x: number) => x, { walltime: 1 } as never)).to.throw(
      ConfigError,
      /unknown option "walltime" \(walltime is a call option/,
    );
  });
  it("names bad option values", () => {
    expect(() => app((x: number) => x, { retries: -1 })).to.throw(
      ConfigError,
      /options\.retries: expected an integer >= 0, got -1 \(number\)/,
    );
    expect(() => app((x: number) => x, { executors: [] })).to.throw(
      ConfigError,
      /options\.executors: expected "all" or a non-empty array of labels/,
    );
    expect(() => shellApp(() => "true", { ignoreForCache: [-1] })).to.throw(
      ConfigError,
      /ignoreForCache: expected an array of option keys/,
    );
  });
  it("rejects a non-function with its value and type", () => {
    expect(() => app(42 as never)).to.throw(
      ConfigError,
      /app\(fn, options\?\): expected a function, got 42 \(number\)/,
    );
  });
  it("names anonymous apps after the binding they are assigned to", () => {
    const triple = app((x: number) => 3 * x);
    expect((triple as unknown as { appDef: { name: string } }).appDef.name).to.equal("triple");
    expect(triple.name).to.equal("triple");
  });
});
