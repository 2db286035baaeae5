// Faults done for real on HighThroughputExecutor: processes killed and stopped, blocks that never connect.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  HighThroughputExecutor,
  LocalProvider,
  ManagerLostError,
  ProviderError,
  WorkerLostError,
  type Config,
  type DataFlowKernel,
  type HighThroughputOptions,
} from "taskloom";
import { childrenOf, processGone, rejection, tmpDir, until } from "../helpers/tmp.js";
import { hangOnce, pidThenSleep, whereAmI } from "../fixtures/htex-apps.js";
import { double, shell } from "../fixtures/apps.js";

describe("HighThroughputExecutor faults", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  let n = 0;
  const start = async (opts: HighThroughputOptions = {}, cfg: Config = {}): Promise<DataFlowKernel> =>
    (k = await load({
      executors: [new HighThroughputExecutor({ label: "htex", maxWorkersPerNode: 2, ...opts })],
      runDir: path.join(tmp.dir, `run${n++}`),
      initializeLogging: false,
      ...cfg,
    }));
  const file = (name: string): string => path.join(tmp.dir, `${name}-${n}`);
  const pidIn = async (f: string): Promise<number> => {
    expect(await until(() => fs.existsSync(f) && fs.readFileSync(f, "utf8") !== "", 20_000)).to.equal(true);
    return Number(fs.readFileSync(f, "utf8"));
  };
  afterEach(async () => {
    await k?.cleanup();
    k = undefined;
  });
  after(() => tmp.remove());

  it("a worker killed mid-task fails that task with WorkerLostError; a new worker runs later tasks", async () => {
    await start();
    const f = file("pid");
    const victim = pidThenSleep(f, 30_000);
    const pid = await pidIn(f);
    process.kill(pid, "SIGKILL");
    const e = await rejection(victim);
    expect(e).to.be.instanceOf(WorkerLostError);
    expect((e as Error).message).to.match(/SIGKILL/);
    const after = await Promise.all(Array.from({ length: 6 }, () => whereAmI()));
    expect(after.map((w) => w.pid)).to.not.include(pid);
    expect(new Set(after.map((w) => w.rank))).to.deep.equal(new Set(["0", "1"]));
    expect(await double(21)).to.equal(42);
  });

  it("retries re-run a task whose worker was lost", async () => {
    await start({}, { retries: 1 });
    const f = file("once");
    const fut = hangOnce(f);
    const pid = await pidIn(f);
    process.kill(pid, "SIGKILL");
    expect(await fut).to.equal(`retried after ${pid}`);
  });

  it("a manager stopped past heartbeatThreshold fails its tasks with ManagerLostError, and is refused when it wakes", async () => {
    await start({ heartbeatPeriod: 0.1, heartbeatThreshold: 0.8 }, { strategyPeriod: 0.2 });
    const where = await whereAmI();
    const manager = where.ppid;
    const f = file("pid");
    const victim = pidThenSleep(f, 30_000);
    await pidIn(f);
    process.kill(manager, "SIGSTOP");
    try {
      const e = await rejection(victim);
      expect(e).to.be.instanceOf(ManagerLostError);
      expect((e as ManagerLostError).managerId).to.equal(where.pool);
    } finally {
      process.kill(manager, "SIGCONT");
    }
    // Woken, it hears it was dropped and exits, taking its workers with it.
    expect(await until(() => processGone(manager), 10_000)).to.equal(true);
    expect(await until(() => processGone(where.pid), 10_000)).to.equal(true);
    const log = fs.readFileSync(path.join(k!.runDir, "htex", "interchange.log"), "utf8");
    expect(log).to.match(/manager lost.*no heartbeat/);
    // The strategy replaces the ended block; work goes on.
    const again = await whereAmI();
    expect(again.ppid).to.not.equal(manager);
  });

  it("a manager told to stop (SIGTERM, as a batch system at walltime) is dropped at once, not after the heartbeat threshold", async () => {
    await start({}, { strategyPeriod: 0.2 });
    const where = await whereAmI();
    const f = file("pid");
    const victim = pidThenSleep(f, 30_000);
    await pidIn(f);
    const t0 = Date.now();
    process.kill(where.ppid, "SIGTERM");
    const e = await rejection(victim);
    expect(e).to.be.instanceOf(ManagerLostError);
    expect(Date.now() - t0).to.be.below(10_000);
    const log = fs.readFileSync(path.join(k!.runDir, "htex", "interchange.log"), "utf8");
    expect(log).to.match(/manager lost.*its worker pool got SIGTERM/);
    // Nothing is sent to the stopped pool: the next task runs on the block that replaces it.
    const next = await whereAmI();
    expect(next.ppid).to.not.equal(where.ppid);
  });

  it("a manager killed takes its workers (and their shell commands) with it", async () => {
    await start();
    const where = await whereAmI();
    const workers = childrenOf(where.ppid, "worker.js");
    expect(workers).to.have.length(2);
    const f = file("shell");
    const running = shell(`echo $$ > ${f}; exec sleep 60`);
    running.catch(() => {});
    const sleeper = await pidIn(f);
    process.kill(where.ppid, "SIGKILL");
    for (const w of workers) expect(await until(() => processGone(w), 10_000), `worker ${w}`).to.equal(true);
    expect(await until(() => processGone(sleeper), 10_000), "the worker's shell command").to.equal(true);
  });

  it("the interchange killed rejects every outstanding future, and later ones, without hanging; its managers exit", async () => {
    await start({ heartbeatPeriod: 0.2, heartbeatThreshold: 1 });
    const where = await whereAmI();
    const [ix] = childrenOf(process.pid, "interchange");
    expect(ix, "the interchange process").to.be.a("number");
    const f = file("pid");
    const outstanding = [pidThenSleep(f, 30_000), pidThenSleep(f + "b", 30_000), pidThenSleep(f + "c", 30_000)];
    await pidIn(f);
    process.kill(ix!, "SIGKILL");
    for (const fut of outstanding) {
      const e = await rejection(fut);
      expect(e).to.be.instanceOf(WorkerLostError);
      expect((e as Error).message).to.match(/interchange process exited \(SIGKILL\)/);
    }
    const later = await rejection(double(1));
    expect(later).to.be.instanceOf(WorkerLostError);
    // The manager hears nothing for heartbeatThreshold and exits, its workers with it.
    expect(await until(() => processGone(where.ppid) && processGone(where.pid), 10_000)).to.equal(true);
  });

  it("a block that exits without connecting fails the tasks with its exit code and stderr", async () => {
    await start({ provider: new LocalProvider({ workerInit: "echo 'module: no such module' >&2; exit 3" }) });
    const e = await rejection(double(2));
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(/exit code 3/);
    expect((e as Error).message).to.match(/module: no such module/);
    expect(await rejection(double(3))).to.be.instanceOf(ProviderError);
  });
});
