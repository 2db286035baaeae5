import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import {
  load,
  getLastCheckpoint,
  getAllCheckpoints,
  SerializationError,
  type DataFlowKernel,
  type Config,
} from "taskloom";
import { executorCases } from "../helpers/executors.js";
import { rejection, tmpDir } from "../helpers/tmp.js";
import {
  cachedRandom,
  cachedIgnoring,
  cachedByPosition,
  cachedFail,
  cachedJoin,
  randomValue,
  Maths,
} from "../fixtures/apps.js";

const ex = executorCases[0]!;

describe("memoization", () => {
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  const start = async (cfg: Config = {}): Promise<DataFlowKernel> =>
    (k = await load({ executors: ex.make(), runDir: tmp.dir, initializeLogging: false, ...cfg }));
  afterEach(async () => {
    await k?.cleanup();
    k = undefined;
  });
  after(() => tmp.remove());

  it("returns the first result for a repeated identical call (memo_done)", async () => {
    const dk = await start();
    const a = await cachedRandom(1);
    const again = cachedRandom(1);
    expect(await again).to.equal(a);
    expect(again.status).to.equal("memo_done");
    expect(await cachedRandom(2)).not.to.equal(a);
    expect(dk.taskStateCounts().memo_done).to.equal(1);
  });

  it("hashes structure, not identity: equal objects with keys in another order hit", async () => {
    await start();
    const a = await cachedRandom({ x: 1, y: [1, 2] });
    expect(await cachedRandom({ y: [1, 2], x: 1 })).to.equal(a);
    expect(await cachedRandom({ x: 1, y: [2, 1] })).not.to.equal(a);
  });

  it("ignoreForCache leaves out option keys and argument positions", async () => {
    await start();
    const a = await cachedIgnoring(1, { label: "first" });
    expect(await cachedIgnoring(1, { label: "second" })).to.equal(a);
    expect(await cachedIgnoring(2, { label: "first" })).not.to.equal(a);
    const b = await cachedByPosition(5, 1);
    expect(await cachedByPosition(5, 2)).to.equal(b);
  });

  it("apps without cache are never memoized", async () => {
    await start();
    expect(await randomValue(1)).not.to.equal(await randomValue(1));
  });

  it("appCache: false turns memoization off", async () => {
    await start({ appCache: false });
    expect(await cachedRandom(1)).not.to.equal(await cachedRandom(1));
  });

  it("a failure is memoized too: the same error object comes back", async () => {
    await start();
    const e1 = await rejection(cachedFail(1));
    const e2 = await rejection(cachedFail(1));
    expect(e2).to.equal(e1);
  });

  it("an unhashable argument fails the task with a clear SerializationError", async () => {
    await start();
    class Opaque {
      v = 1;
    }
    const e = (await rejection(cachedRandom(new Opaque()))) as Error;
    expect(e).to.be.instanceOf(SerializationError);
    expect(e.message).to.contain("Opaque");
  });

  it("join apps and decorated apps can be cached", async () => {
    await start();
    const a = await cachedJoin(3);
    expect(await cachedJoin(3)).to.equal(a);
    expect(await Maths.cube(3)).to.equal(27);
    expect(await Maths.cube(3)).to.equal(27);
    expect(k!.taskStateCounts().memo_done).to.equal(2);
  });
});

describe("checkpointing", () => {
  const tmp = tmpDir();
  const base = (name: string): string => path.join(tmp.dir, name);
  after(() => tmp.remove());
  const run = async <T>(cfg: Config, fn: (k: DataFlowKernel) => Promise<T>): Promise<T> => {
    const k = await load({ executors: ex.make(), initializeLogging: false, ...cfg });
    try {
      return await fn(k);
    } finally {
      await k.cleanup();
    }
  };

  it("task_exit: results of run 1 are reused by run 2; failures are not checkpointed", async () => {
    const runDir = base("task_exit");
    const first = await run({ runDir, checkpointMode: "task_exit" }, async (k) => {
      const vals = await Promise.all([1, 2, 3, 4, 5].map((i) => cachedRandom(i)));
      await rejection(cachedFail(9));
      const file = path.join(k.runDir, "checkpoint", "tasks.jsonl");
      expect(fs.readFileSync(file, "utf8").trim().split("\n")).to.have.length(5);
      return vals;
    });
    const files = getLastCheckpoint(runDir);
    expect(files).to.have.length(1);
    await run({ runDir, checkpointFiles: files }, async (k) => {
      const again = await Promise.all([1, 2, 3, 4, 5].map((i) => cachedRandom(i)));
      expect(again).to.deep.equal(first);
      expect(k.taskStateCounts().memo_done).to.equal(5);
      await rejection(cachedFail(9));
      expect(k.taskStateCounts().failed).to.equal(1);
      expect(k.taskStateCounts().memo_done).to.equal(5);
    });
  });

  it("with a mode and no checkpointFiles, every earlier run's checkpoint is loaded", async () => {
    const runDir = base("all");
    const a = await run({ runDir, checkpointMode: "task_exit" }, async () => cachedRandom("a"));
    const b = await run({ runDir, checkpointMode: "task_exit" }, async () => cachedRandom("b"));
    expect(getAllCheckpoints(runDir)).to.have.length(2);
    await run({ runDir, checkpointMode: "task_exit" }, async (k) => {
      expect(await cachedRandom("a")).to.equal(a);
      expect(await cachedRandom("b")).to.equal(b);
      expect(k.taskStateCounts().memo_done).to.equal(2);
    });
  });

  it("dfk_exit writes at cleanup and manual only when asked", async () => {
    const runDir = base("modes");
    let dir = "";
    await run({ runDir, checkpointMode: "dfk_exit" }, async (k) => {
      dir = k.runDir;
      await cachedRandom("exit");
      expect(fs.existsSync(path.join(dir, "checkpoint", "tasks.jsonl"))).to.equal(false);
    });
    expect(
      fs
        .readFileSync(path.join(dir, "checkpoint", "tasks.jsonl"), "utf8")
        .trim()
        .split("\n"),
    ).to.have.length(1);
    await run({ runDir, checkpointMode: "manual" }, async (k) => {
      await cachedRandom("manual");
      const file = path.join(k.runDir, "checkpoint", "tasks.jsonl");
      expect(fs.existsSync(file)).to.equal(false);
      expect(k.checkpoint()).to.equal(1);
      expect(fs.readFileSync(file, "utf8").trim().split("\n")).to.have.length(1);
    });
  });

  it("a checkpoint survives the workflow process being killed mid-run", async function () {
    this.timeout(60_000);
    const runDir = base("crash");
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/crash-workflow.ts", runDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("checkpointed")) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("exit", (code) =>
        out.includes("checkpointed") ? resolve() : reject(new Error(`exited ${code}: ${out}`)),
      );
    });
    const results = JSON.parse(out.slice(out.indexOf("{"), out.indexOf("}") + 1)) as Record<string, number>;
    const files = getLastCheckpoint(runDir);
    // Simulate a torn last record, as a crash in the middle of a write leaves.
    fs.appendFileSync(
      path.join(files[0]!, fs.statSync(files[0]!).isDirectory() ? "tasks.jsonl" : ""),
      '{"hash":"abc","val',
    );
    await run({ runDir, checkpointFiles: files }, async (k) => {
      for (const [x, v] of Object.entries(results)) expect(await cachedRandom(Number(x))).to.equal(v);
      expect(k.taskStateCounts().memo_done).to.equal(Object.keys(results).length);
    });
  });
});
