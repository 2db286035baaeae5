// Who may talk to the interchange: loopback by default, and with `encrypted` only holders of the run's CurveZMQ key.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { curveKeyPair, Dealer } from "zeromq";
import { load, ConfigError, HighThroughputExecutor, type DataFlowKernel } from "taskloom";
import { pack, PROTOCOL_VERSION } from "../../executors/htex/protocol.js";
import { VERSION } from "../../lib/version.js";
import { tmpDir, until } from "../helpers/tmp.js";
import { whereAmI } from "../fixtures/htex-apps.js";

describe("HighThroughputExecutor security", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  afterEach(async () => {
    await k?.cleanup();
    k = undefined;
  });
  after(() => tmp.remove());
  const script = (): string => fs.readFileSync(path.join(k!.runDir, "submit_scripts", "block-0.sh"), "utf8");
  const logOf = (): string => fs.readFileSync(path.join(k!.runDir, "htex", "interchange.log"), "utf8");

  it("binds the manager port to loopback unless an address is given", async () => {
    k = await load({
      executors: [new HighThroughputExecutor({ maxWorkersPerNode: 1 })],
      runDir: path.join(tmp.dir, "plain"),
      initializeLogging: false,
    });
    expect((await whereAmI()).block).to.equal("0");
    expect(script()).to.match(/--url tcp:\/\/127\.0\.0\.1:\d+/);
    expect(script()).to.not.match(/--cert-dir/);
  });

  it("encrypted: true runs tasks over CurveZMQ, keeps keys private, and shuts out other keys and plain peers", async () => {
    k = await load({
      executors: [new HighThroughputExecutor({ maxWorkersPerNode: 1, encrypted: true })],
      runDir: path.join(tmp.dir, "curve"),
      initializeLogging: false,
    });
    expect((await whereAmI()).block).to.equal("0");
    const certs = path.join(k.runDir, "htex", "certs");
    expect(fs.statSync(certs).mode & 0o777).to.equal(0o700);
    for (const f of fs.readdirSync(certs)) expect(fs.statSync(path.join(certs, f)).mode & 0o777, f).to.equal(0o600);
    expect(script()).to.include(`--cert-dir ${certs}`);
    const url = /--url (tcp:\/\/\S+)/.exec(script())![1]!;
    const serverPublic = (
      JSON.parse(fs.readFileSync(path.join(certs, "interchange.public"), "utf8")) as {
        publicKey: string;
      }
    ).publicKey;
    const register = pack({
      t: "register",
      reg: {
        protocol: PROTOCOL_VERSION,
        node: "x",
        manager: "intruder",
        block: "0",
        hostname: "x",
        workers: 8,
        prefetch: 0,
        cores: 8,
        memory: 8,
        disk: 1024,
        gpus: [],
        nodes: [],
        pid: 1,
        versions: { taskloom: VERSION, node: process.version },
      },
    });
    const stranger = curveKeyPair();
    const wrongKey = new Dealer({
      linger: 0,
      curveServerKey: serverPublic,
      curvePublicKey: stranger.publicKey,
      curveSecretKey: stranger.secretKey,
    });
    const plain = new Dealer({ linger: 0 });
    try {
      wrongKey.connect(url);
      plain.connect(url);
      void wrongKey.send(register);
      void plain.send(register);
      expect(await until(() => /not the workflow's CurveZMQ key/.test(logOf()), 10_000), logOf()).to.equal(true);
      expect(await until(() => /handshake failed/.test(logOf()), 10_000), logOf()).to.equal(true);
    } finally {
      wrongKey.close();
      plain.close();
    }
    expect(logOf()).to.not.match(/manager registered.*intruder/);
    const runs = await Promise.all(Array.from({ length: 20 }, () => whereAmI()));
    expect(new Set(runs.map((r) => r.pool)).size).to.equal(1);
  });

  it("rejects a non-boolean encrypted option", () => {
    expect(() => new HighThroughputExecutor({ encrypted: "yes" as unknown as boolean })).to.throw(
      ConfigError,
      /options.encrypted: expected true or false, got "yes"/,
    );
  });
});
