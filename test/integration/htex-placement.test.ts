// Where and in what order HighThroughputExecutor runs tasks: priorities, resources, accelerators, who may connect.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { Dealer } from "zeromq";
import {
  load,
  ConfigError,
  HighThroughputExecutor,
  LocalProvider,
  type DataFlowKernel,
  type HighThroughputOptions,
} from "taskloom";
import { pack, unpack, PROTOCOL_VERSION, type Message } from "../../executors/htex/protocol.js";
import { VERSION } from "../../lib/version.js";
import { rejection, tmpDir } from "../helpers/tmp.js";
import { record, span, waitForFile, whereAmI } from "../fixtures/htex-apps.js";

describe("HighThroughputExecutor placement", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  let n = 0;
  const start = async (opts: HighThroughputOptions = {}): Promise<DataFlowKernel> =>
    (k = await load({
      executors: [new HighThroughputExecutor({ label: "htex", maxWorkersPerNode: 2, ...opts })],
      runDir: path.join(tmp.dir, `run${n++}`),
      initializeLogging: false,
    }));
  const file = (name: string): string => path.join(tmp.dir, `${name}-${n}`);
  afterEach(async () => {
    await k?.cleanup();
    k = undefined;
  });
  after(() => tmp.remove());

  it("runs lower priority values first, FIFO among equals, tasks without a priority last", async () => {
    await start({ maxWorkersPerNode: 1 });
    const gate = file("gate");
    const out = file("order");
    const first = waitForFile(gate, { priority: -100 });
    const labels: [string, number | undefined][] = [
      ["p5", 5],
      ["p1a", 1],
      ["none", undefined],
      ["p3", 3],
      ["p1b", 1],
      ["m2", -2],
    ];
    const runs = labels.map(([l, p]) => record(out, l, p === undefined ? {} : { priority: p }));
    fs.writeFileSync(gate, "");
    await first;
    await Promise.all(runs);
    expect(fs.readFileSync(out, "utf8").trim().split("\n")).to.deep.equal(["m2", "p1a", "p1b", "p3", "p5", "none"]);
  });

  it("packs tasks by the cores they ask for: two 2-core tasks never overlap on a 2-core node", async () => {
    await start({ provider: new LocalProvider({ workerInit: "export TASKLOOM_CORES=2" }) });
    // Both workers load the app module first, so neither starts late below for that reason.
    const warm = await Promise.all([1, 2].map(() => span(300)));
    expect(new Set(warm.map((w) => w.pid)).size).to.equal(2);
    const big = await Promise.all([1, 2, 3].map(() => span(150, { resources: { cores: 2 } })));
    big.sort((a, b) => a.start - b.start);
    for (let i = 1; i < big.length; i++) expect(big[i]!.start).to.be.at.least(big[i - 1]!.end);
    const small = await Promise.all([1, 2].map(() => span(300, { resources: { cores: 1 } })));
    expect(Math.max(small[0]!.start, small[1]!.start)).to.be.below(Math.min(small[0]!.end, small[1]!.end));
  });

  it("learns run times per app: slow tasks after many tiny ones still spread over every manager", async () => {
    await start({ maxWorkersPerNode: 1, provider: new LocalProvider({ initBlocks: 2, maxBlocks: 2 }) });
    // Both managers see tiny tasks and widen their windows.
    await Promise.all(Array.from({ length: 4000 }, () => whereAmI()));
    const slow = await Promise.all([1, 2, 3, 4].map(() => span(300)));
    expect(new Set(slow.map((x) => x.pid)).size).to.equal(2);
    const sorted = slow.map((x) => x.start).sort((a, b) => a - b);
    expect(sorted[1]! - sorted[0]!).to.be.below(250);
  });

  it("fails at once a task no node can hold, naming what it asked for and what a node has", async () => {
    await start();
    const t0 = Date.now();
    const e = await rejection(span(1, { resources: { cores: 100_000 } }));
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).message).to.match(
      /can run on no node: it needs \{"cores":100000\}, but a node of this executor has \d+ cores/,
    );
    expect(Date.now() - t0).to.be.below(5000);
    const gpu = await rejection(span(1, { resources: { gpus: 1 } }));
    expect(gpu).to.be.instanceOf(ConfigError);
    expect((gpu as Error).message).to.match(/needs \{"gpus":1\}, but a node of this executor has .*0 GPUs/);
    await k!.cleanup();
    await start({ provider: new LocalProvider({ workerInit: "export TASKLOOM_CORES=1 TASKLOOM_DISK_MB=100" }) });
    await whereAmI();
    const small = await rejection(span(1, { resources: { cores: 2 } }));
    expect((small as Error).message).to.match(/no connected node is that large \(1 cores\/.*\/100 MB disk\)/);
    const disk = await rejection(span(1, { resources: { disk: 200 } }));
    expect((disk as Error).message).to.match(/needs \{"disk":200\}, but no connected node is that large/);
    expect((await span(1, { resources: { disk: 50 } })).pid).to.be.a("number");
  });

  it("pins one accelerator per worker and exposes rank, count and pool id", async () => {
    await start({ availableAccelerators: ["gpu-a", "gpu-b"] });
    const seen = await Promise.all(Array.from({ length: 8 }, () => whereAmI()));
    const byRank = new Map(seen.map((w) => [w.rank, w]));
    expect([...byRank.keys()].sort()).to.deep.equal(["0", "1"]);
    expect(byRank.get("0")!.cuda).to.equal("gpu-a");
    expect(byRank.get("1")!.cuda).to.equal("gpu-b");
    expect(seen.every((w) => w.count === "2" && w.block === "0" && w.pool === seen[0]!.pool)).to.equal(true);
  });

  it("refuses and logs managers with a bad registration, a wrong version, or no registration", async () => {
    await start();
    await whereAmI();
    const script = fs.readFileSync(path.join(k!.runDir, "submit_scripts", "block-0.sh"), "utf8");
    const url = /--url (tcp:\/\/\S+)/.exec(script)![1]!;
    const ask = async (body: Buffer[]): Promise<Message> => {
      const s = new Dealer({ linger: 0 });
      s.connect(url);
      try {
        await s.send(body);
        return unpack(await s.receive());
      } finally {
        s.close();
      }
    };
    const reg = {
      protocol: PROTOCOL_VERSION + 1,
      node: "x",
      manager: "intruder",
      block: "9",
      hostname: "x",
      workers: 1,
      prefetch: 0,
      cores: 1,
      memory: 1,
      disk: 1024,
      gpus: [],
      nodes: [],
      pid: 1,
      versions: { taskloom: VERSION, node: process.version },
    };
    expect(await ask(pack({ t: "register", reg }))).to.deep.equal({
      t: "refused",
      reason: `protocol version ${PROTOCOL_VERSION + 1} does not match the interchange's ${PROTOCOL_VERSION}`,
    });
    const bad = await ask(pack({ t: "register", reg: { ...reg, protocol: PROTOCOL_VERSION, workers: 0 } }));
    expect(bad).to.deep.equal({ t: "refused", reason: "registration.workers must be at least 1" });
    const old = { ...reg, protocol: PROTOCOL_VERSION, versions: { taskloom: "0.0.1", node: "v18.0.0" } };
    expect(await ask(pack({ t: "register", reg: old }))).to.deep.equal({
      t: "refused",
      reason: `taskloom version 0.0.1 does not match the interchange's ${VERSION}`,
    });
    expect(await ask([Buffer.from([0xc1, 0xff, 0x00])])).to.deep.include({ t: "refused" });
    expect(await ask(pack({ t: "done", results: [{ id: 1, payload: new Uint8Array() }] }))).to.deep.equal({
      t: "refused",
      reason: "not registered",
    });
    const log = fs.readFileSync(path.join(k!.runDir, "htex", "interchange.log"), "utf8");
    expect(log).to.match(/manager refused.*protocol version/);
    // The real manager still works.
    expect((await whereAmI()).block).to.equal("0");
  });
});
