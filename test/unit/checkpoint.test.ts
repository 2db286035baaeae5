import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  CheckpointWriter,
  getAllCheckpoints,
  getLastCheckpoint,
  loadCheckpoints,
  parsePeriod,
} from "../../lib/dataflow/checkpoint.js";
import { makeRunDir } from "../../lib/dataflow/run-dir.js";
import { ConfigError } from "../../lib/errors.js";
import { tmpDir, until } from "../helpers/tmp.js";

describe("checkpoints", () => {
  let tmp: ReturnType<typeof tmpDir>;
  beforeEach(() => (tmp = tmpDir()));
  afterEach(() => tmp.remove());
  const file = (runDir: string): string => path.join(runDir, "checkpoint", "tasks.jsonl");
  const lines = (runDir: string): number =>
    fs.existsSync(file(runDir)) ? fs.readFileSync(file(runDir), "utf8").split("\n").filter(Boolean).length : 0;

  it("round-trips rich values", () => {
    const w = new CheckpointWriter({ runDir: tmp.dir, mode: "task_exit" });
    const value = { m: new Map([[1, [2n, new Date(5)]]]), b: Buffer.from("hi"), n: [1, [2, [3]]], s: new Set(["x"]) };
    w.record("h1", value);
    w.close();
    const loaded = loadCheckpoints([tmp.dir]);
    expect(loaded.get("h1")).to.deep.equal({ ...value, b: new Uint8Array(Buffer.from("hi")) });
  });

  it("task_exit writes each record at once", () => {
    const w = new CheckpointWriter({ runDir: tmp.dir, mode: "task_exit" });
    w.record("a", 1);
    expect(lines(tmp.dir)).to.equal(1);
    w.record("b", 2);
    expect(lines(tmp.dir)).to.equal(2);
    w.close();
  });

  it("dfk_exit writes at close; manual only on checkpoint(), which leaves a file even when empty", () => {
    const d1 = path.join(tmp.dir, "exit");
    const w = new CheckpointWriter({ runDir: d1, mode: "dfk_exit" });
    w.record("a", 1);
    expect(lines(d1)).to.equal(0);
    w.close();
    expect(lines(d1)).to.equal(1);
    const d2 = path.join(tmp.dir, "manual");
    const m = new CheckpointWriter({ runDir: d2, mode: "manual" });
    expect(m.checkpoint()).to.equal(0);
    expect(fs.existsSync(file(d2))).to.equal(true);
    m.record("a", 1);
    expect(lines(d2)).to.equal(0);
    expect(m.checkpoint()).to.equal(1);
    expect(lines(d2)).to.equal(1);
    m.close();
  });

  it("periodic flushes on its timer and logs each period", async () => {
    const logged: string[] = [];
    const w = new CheckpointWriter({
      runDir: tmp.dir,
      mode: "periodic",
      periodSeconds: 0.05,
      logger: { info: (m) => logged.push(m), warn: () => {} },
    });
    w.record("a", 1);
    expect(await until(() => lines(tmp.dir) === 1, 3000)).to.equal(true);
    expect(await until(() => logged.includes("No tasks checkpointed"), 3000)).to.equal(true);
    expect(logged).to.include("Done checkpointing 1 tasks");
    w.close();
  });

  it("skips a torn last line and keeps the records before it", () => {
    const w = new CheckpointWriter({ runDir: tmp.dir, mode: "task_exit" });
    w.record("a", 1);
    w.record("b", 2);
    w.close();
    fs.appendFileSync(file(tmp.dir), '{"hash":"c","value":"AAE');
    const loaded = loadCheckpoints([file(tmp.dir)]);
    expect([...loaded.keys()]).to.deep.equal(["a", "b"]);
  });

  it("does not write what cannot be serialized, and says so", () => {
    const warned: string[] = [];
    const w = new CheckpointWriter({
      runDir: tmp.dir,
      mode: "task_exit",
      logger: { info: () => {}, warn: (m) => warned.push(m) },
    });
    w.record("f", () => 1);
    w.record("ok", 1);
    w.close();
    expect(lines(tmp.dir)).to.equal(1);
    expect(warned[0]).to.contain("cannot be serialized");
  });

  it("names a missing checkpoint path", () => {
    const w = new CheckpointWriter({ runDir: tmp.dir, mode: "task_exit" });
    w.record("a", 1);
    w.close();
    expect(() => loadCheckpoints([tmp.dir, path.join(tmp.dir, "nope")])).to.throw(
      ConfigError,
      /checkpointFiles\[1\]: no checkpoint at/,
    );
  });

  it("parses checkpoint periods", () => {
    expect(parsePeriod("00:00:02")).to.equal(2);
    expect(parsePeriod("01:30:00")).to.equal(5400);
    expect(parsePeriod(2.5)).to.equal(2.5);
    for (const bad of ["2s", -1, 0, "00:61:00", "00:00:00"]) {
      expect(() => parsePeriod(bad), String(bad)).to.throw(
        ConfigError,
        /checkpointPeriod: expected a number of seconds > 0 or "HH:MM:SS"/,
      );
    }
  });

  it("finds the last and all checkpoints in numeric order, ignoring other entries", () => {
    for (const n of ["000", "999", "1000", "notes"]) {
      fs.mkdirSync(path.join(tmp.dir, n, "checkpoint"), { recursive: true });
      fs.writeFileSync(path.join(tmp.dir, n, "checkpoint", "tasks.jsonl"), "");
    }
    fs.mkdirSync(path.join(tmp.dir, "1001")); // a run without a checkpoint
    expect(getLastCheckpoint(tmp.dir)).to.deep.equal([path.join(tmp.dir, "1000", "checkpoint")]);
    expect(getAllCheckpoints(tmp.dir).map((p) => path.basename(path.dirname(p)))).to.deep.equal(["000", "999", "1000"]);
    expect(getLastCheckpoint(path.join(tmp.dir, "missing"))).to.deep.equal([]);
  });
});

describe("run directories", () => {
  let tmp: ReturnType<typeof tmpDir>;
  beforeEach(() => (tmp = tmpDir()));
  afterEach(() => tmp.remove());

  it("numbers runs 000, 001, … after the highest, ignoring non-numeric entries", () => {
    const base = path.join(tmp.dir, "runinfo");
    expect(path.basename(makeRunDir(base))).to.equal("000");
    expect(path.basename(makeRunDir(base))).to.equal("001");
    fs.mkdirSync(path.join(base, "999"));
    fs.mkdirSync(path.join(base, "latest"));
    expect(path.basename(makeRunDir(base))).to.equal("1000");
  });

  it("gives racing callers distinct directories", async () => {
    const base = path.join(tmp.dir, "race");
    const dirs = await Promise.all(Array.from({ length: 20 }, () => Promise.resolve().then(() => makeRunDir(base))));
    expect(new Set(dirs).size).to.equal(20);
  });
});
