import { expect } from "chai";
import { validateConfig } from "../../lib/config-validate.js";
import { ConfigError } from "../../lib/errors.js";

const fakeExecutor = (label: string): object => ({
  label,
  start: () => {},
  submit: () => {},
  cancel: () => false,
  shutdown: () => {},
});

describe("config validation", () => {
  it("accepts a full valid config and undefined", () => {
    expect(() => validateConfig(undefined)).not.to.throw();
    expect(() =>
      validateConfig({
        executors: [fakeExecutor("a"), fakeExecutor("b")],
        retries: 2,
        retryHandler: () => 1,
        appCache: false,
        checkpointMode: "periodic",
        checkpointFiles: ["x"],
        checkpointPeriod: "00:10:00",
        strategy: "htex_auto_scale",
        strategyPeriod: 1,
        maxIdleTime: 0,
        monitoring: {},
        runDir: "runs",
        initializeLogging: { level: "debug" },
        exitMode: "wait",
      }),
    ).not.to.throw();
  });

  const bad: [unknown, RegExp][] = [
    [[], /config: expected a plain object, got \[\] \(array\)/],
    [{ retries: -1 }, /config\.retries: expected an integer >= 0, got -1 \(number\)/],
    [{ retries: 1.5 }, /config\.retries: expected an integer >= 0, got 1\.5/],
    [{ retryHandler: 3 }, /config\.retryHandler: expected a function/],
    [{ appCache: "yes" }, /config\.appCache: expected a boolean, got "yes" \(string\)/],
    [
      { checkpointMode: "sometimes" },
      /config\.checkpointMode: expected one of "task_exit", "periodic", "dfk_exit", "manual", got "sometimes"/,
    ],
    [{ checkpointFiles: "a" }, /config\.checkpointFiles: expected an array of paths/],
    [{ checkpointPeriod: "5m" }, /config\.checkpointPeriod: expected a number of seconds > 0 or "HH:MM:SS", got "5m"/],
    [{ strategy: "fast" }, /config\.strategy: expected one of "none", "simple", "htex_auto_scale"/],
    [{ strategyPeriod: 0 }, /config\.strategyPeriod: expected a number of seconds > 0, got 0/],
    [{ maxIdleTime: -5 }, /config\.maxIdleTime: expected a number of seconds >= 0/],
    [{ runDir: "" }, /config\.runDir: expected a non-empty path string/],
    [{ initializeLogging: { level: "loud" } }, /config\.initializeLogging: expected true, false or \{ level/],
    [{ exitMode: "later" }, /config\.exitMode: expected one of "cleanup", "wait", "skip"/],
    [{ executors: [] }, /config\.executors: expected a non-empty array of executors/],
    [{ executors: [fakeExecutor("a"), { label: "b" }] }, /config\.executors\[1\]: expected an executor/],
    [{ executors: [fakeExecutor("a"), fakeExecutor("a")] }, /config\.executors\[1\]: label "a" is used twice/],
    [
      { checkpoint_mode: "task_exit" },
      /config\.checkpoint_mode: unknown field \(did you mean "checkpointMode"\?\); allowed: executors/,
    ],
    [{ max_idletime: 5 }, /did you mean "maxIdleTime"/],
    [{ retires: 1 }, /did you mean "retries"/],
  ];
  for (const [cfg, re] of bad) {
    it(`rejects ${JSON.stringify(cfg)}`, () => {
      expect(() => validateConfig(cfg)).to.throw(ConfigError, re);
    });
  }
});
