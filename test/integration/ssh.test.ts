// SSHRunner and AdHocProvider against a real sshd on a loopback port (test/services/sshd-up.sh): commands, exit
// codes, host key checks, timeouts, reconnects, SFTP staging, and a workflow whose worker pool was started over SSH.
import { expect } from "chai";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import {
  load,
  AdHocProvider,
  HighThroughputExecutor,
  ProviderError,
  SimpleLauncher,
  SlurmProvider,
  SSHRunner,
  type DataFlowKernel,
} from "taskloom";
import { nullLogger } from "../../lib/logging.js";
import { ensureService, startSshd, stopService, type Sshd } from "../helpers/services.js";
import { childrenOf, processGone, rejection, tmpDir, until } from "../helpers/tmp.js";
import { viaSsh } from "../fixtures/ssh-apps.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

describe("SSH: SSHRunner and AdHocProvider on a real sshd", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let sshd: Sshd;
  let knownHosts = "";
  before(async function () {
    sshd = startSshd(this, path.join(tmp.dir, "sshd"), await freePort());
    const [type, key] = fs.readFileSync(path.join(sshd.dir, "hostkey.pub"), "utf8").trim().split(/\s+/);
    knownHosts = path.join(tmp.dir, "known_hosts");
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${type} ${key}\n`);
  });
  after(() => {
    sshd?.stop();
    tmp.remove();
  });
  const runner = (o: Partial<ConstructorParameters<typeof SSHRunner>[0]> = {}): SSHRunner =>
    new SSHRunner({
      host: "127.0.0.1",
      port: sshd.port,
      username: "root",
      privateKey: path.join(sshd.dir, "clientkey"),
      knownHosts,
      ...o,
    });

  it("runs a command: stdout, stderr, exit code, stdin and cwd come back", async () => {
    const r = runner();
    try {
      const x = await r.run(["bash", "-c", "echo out; echo err >&2; exit 3"], { timeoutMs: 10_000 });
      expect(x).to.deep.equal({ code: 3, stdout: "out\n", stderr: "err\n" });
      const y = await r.run(["bash", "-c", "pwd; cat"], { timeoutMs: 10_000, stdin: "hello", cwd: tmp.dir });
      expect(y.stdout).to.equal(`${fs.realpathSync(tmp.dir)}\nhello`);
    } finally {
      await r.close();
    }
  });

  it("checks the host key: unknown or changed keys are refused; accept-new records a new one", async () => {
    const empty = path.join(tmp.dir, "empty_known_hosts");
    const strict = runner({ knownHosts: empty });
    const e = await rejection(strict.run(["true"], { timeoutMs: 10_000 }));
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(/host \[127\.0\.0\.1\]:\d+ is not in .*empty_known_hosts/);
    const wrong = path.join(tmp.dir, "wrong_known_hosts");
    const other = fs.readFileSync(path.join(sshd.dir, "clientkey.pub"), "utf8").trim().split(/\s+/);
    fs.writeFileSync(wrong, `[127.0.0.1]:${sshd.port} ${other[0]} ${other[1]}\n`);
    const e2 = await rejection(runner({ knownHosts: wrong }).run(["true"], { timeoutMs: 10_000 }));
    expect((e2 as Error).message).to.match(/does not match the one in .*wrong_known_hosts: refusing to connect/);
    const fresh = path.join(tmp.dir, "fresh_known_hosts");
    const r = runner({ knownHosts: fresh, hostKeyCheck: "accept-new" });
    expect((await r.run(["true"], { timeoutMs: 10_000 })).code).to.equal(0);
    await r.close();
    expect(fs.readFileSync(fresh, "utf8")).to.equal(fs.readFileSync(knownHosts, "utf8"));
  });

  it("a key the host does not accept is a clear authentication error", async () => {
    const e = await rejection(
      runner({ privateKey: path.join(sshd.dir, "hostkey") }).run(["true"], { timeoutMs: 10_000 }),
    );
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(/cannot connect to ssh:root@127\.0\.0\.1:\d+: authentication as root failed/);
  });

  it("a command that hangs is a ProviderError after its timeout, and the connection still works", async () => {
    const r = runner();
    try {
      const t0 = Date.now();
      const e = await rejection(r.run(["sleep", "30"], { timeoutMs: 300 }));
      expect((e as Error).message).to.match(/`sleep 30` on ssh:root@127\.0\.0\.1:\d+ did not finish within 0\.3 s/);
      expect(Date.now() - t0).to.be.below(5000);
      expect((await r.run(["echo", "still here"], { timeoutMs: 10_000 })).stdout).to.equal("still here\n");
    } finally {
      await r.close();
    }
  });

  it("opens the connection again after it dropped", async () => {
    const r = runner();
    try {
      expect((await r.run(["true"], { timeoutMs: 10_000 })).code).to.equal(0);
      // Kill the server side of every session: the connection drops under the runner.
      const listener = Number(fs.readFileSync(path.join(sshd.dir, "sshd.pid"), "utf8"));
      for (const pid of childrenOf(listener)) process.kill(pid, "SIGKILL");
      expect(await until(() => childrenOf(listener).length === 0)).to.equal(true);
      let out = "";
      for (let i = 0; i < 3 && out === ""; i++) {
        out = await r.run(["echo", "again"], { timeoutMs: 10_000 }).then(
          (x) => x.stdout,
          () => "",
        );
      }
      expect(out).to.equal("again\n");
    } finally {
      await r.close();
    }
  });

  it("stages a file by SFTP into remoteDir", async () => {
    const remoteDir = path.join(tmp.dir, "remote", "scripts");
    const r = runner({ remoteDir });
    try {
      const local = path.join(tmp.dir, "job.sh");
      fs.writeFileSync(local, "#!/bin/bash\necho staged\n".repeat(1000));
      const remote = await r.stage(local);
      expect(remote).to.equal(path.join(remoteDir, "job.sh"));
      expect(fs.readFileSync(remote, "utf8")).to.equal(fs.readFileSync(local, "utf8"));
    } finally {
      await r.close();
    }
  });

  describe("SlurmProvider submitting over SSH", () => {
    before(function () {
      ensureService(this, "slurm", "sinfo -h -o '%T %D' | grep -q '^idle 2$'");
    });
    after(() => stopService("slurm"));

    it("runs sbatch, squeue and scancel on the login host and reads the job's files there", async () => {
      const remoteDir = path.join(tmp.dir, "login", "jobs");
      const r = runner({ remoteDir });
      const p = new SlurmProvider({ channel: r, launcher: new SimpleLauncher(), exclusive: false });
      await p.start({ runDir: path.join(tmp.dir, "slurm-ssh"), logger: nullLogger });
      try {
        const failing = await p.submit("echo 'no such partition config' >&2; exit 4", 1, "block-0");
        const long = await p.submit("sleep 60", 1, "block-1");
        expect(fs.readFileSync(path.join(remoteDir, "block-0.sh"), "utf8")).to.contain(
          `#SBATCH --output=${remoteDir}/block-0.out`,
        );
        let st = (await p.status([failing]))[0]!;
        for (let i = 0; i < 100 && st.state !== "failed"; i++) {
          await new Promise((res) => setTimeout(res, 100));
          st = (await p.status([failing]))[0]!;
        }
        expect(st).to.deep.include({ state: "failed", exitCode: 4 });
        expect(st.message).to.match(/exit code 4; stderr: no such partition config/);
        expect(await p.cancel([long])).to.deep.equal([true]);
      } finally {
        await r.close();
      }
    });
  });

  describe("a workflow on a worker pool started over SSH", () => {
    let k: DataFlowKernel | undefined;
    after(async () => k?.cleanup());

    it("runs tasks on the AdHocProvider's host, and cancels the block at cleanup", async () => {
      const r = runner({ remoteDir: path.join(tmp.dir, "adhoc") });
      k = await load({
        executors: [
          new HighThroughputExecutor({
            maxWorkersPerNode: 1,
            provider: new AdHocProvider({ channels: [r], statusPollingInterval: 1 }),
          }),
        ],
        runDir: path.join(tmp.dir, "flow"),
        initializeLogging: false,
      });
      const seen = await Promise.all(Array.from({ length: 4 }, () => viaSsh()));
      expect(seen.every((s) => s.ssh)).to.equal(true);
      const manager = seen[0]!.ppid;
      expect(fs.existsSync(path.join(tmp.dir, "adhoc", "block-0.sh"))).to.equal(true);
      await k.cleanup();
      k = undefined;
      expect(await until(() => processGone(manager), 10_000), "the worker pool outlived cleanup").to.equal(true);
      await r.close();
    });
  });
});
