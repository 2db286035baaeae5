// Resource monitoring on the workers, and memory limits, with real processes on both local executors.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  HighThroughputExecutor,
  LocalProvider,
  ResourceExceededError,
  ShellExitError,
  ThreadPoolExecutor,
  type AppFuture,
  type Config,
  type DataFlowKernel,
  type Executor,
} from "taskloom";
import type { ExecTask, ExecutorContext, ResultInfo } from "../../executors/executor.js";
import { processGone, rejection, tmpDir, until } from "../helpers/tmp.js";
import {
  allocate,
  allocateCounted,
  burn,
  burnCpu,
  burnThreadCpu,
  groupMembers,
  noop,
  sh,
  shInGroup,
} from "../fixtures/resource-apps.js";

/**
 * Sets `measure` on every task the kernel submits to `ex` (while `on.measure`) and records what the executor
 * reports, as the kernel's monitoring will.
 */
function spy<E extends Executor>(
  ex: E,
  on: { measure: boolean },
): { ex: E; info: Map<number, ResultInfo | undefined> } {
  const info = new Map<number, ResultInfo | undefined>();
  const submit = ex.submit.bind(ex);
  const start = ex.start.bind(ex);
  ex.submit = (t: ExecTask) => {
    (t as { measure: boolean }).measure = on.measure;
    submit(t);
  };
  ex.start = (ctx: ExecutorContext) =>
    start(
      Object.assign(Object.create(ctx) as ExecutorContext, {
        onResult: (t: ExecTask, ok: boolean, v: unknown, i?: ResultInfo) => {
          info.set(t.id, i);
          ctx.onResult(t, ok, v, i);
        },
      }),
    );
  return { ex, info };
}

const cases: { name: string; make(): Executor }[] = [
  {
    name: "HighThroughputExecutor",
    make: () => new HighThroughputExecutor({ label: "htex", provider: new LocalProvider(), maxWorkersPerNode: 2 }),
  },
  { name: "ThreadPoolExecutor", make: () => new ThreadPoolExecutor({ label: "threads", maxThreads: 2 }) },
];

const MiB = 1024;

for (const c of cases) {
  const htex = c.name === "HighThroughputExecutor";
  describe(`resource monitoring on ${c.name}`, function () {
    this.timeout(120_000);
    const tmp = tmpDir();
    const on = { measure: true };
    let k: DataFlowKernel | undefined;
    let info: Map<number, ResultInfo | undefined>;
    const used = (f: AppFuture<unknown>): ResultInfo => {
      const i = info.get(f.taskId);
      expect(i, `task ${f.taskId} was reported with info`).to.not.equal(undefined);
      return i!;
    };

    before(async () => {
      const s = spy(c.make(), on);
      info = s.info;
      const cfg: Config = { executors: [s.ex], runDir: path.join(tmp.dir, "runinfo"), initializeLogging: false };
      k = await load(cfg);
    });
    beforeEach(() => {
      on.measure = true;
    });
    after(async () => {
      await k?.cleanup();
      tmp.remove();
    });

    if (htex) {
      it("a JS app that allocates 150 MB reports a peak RSS above that, and its worker", async () => {
        const f = allocate(150, 200);
        const { pid } = await f;
        const r = used(f).resources!;
        expect(r.peakRssKiB).to.be.greaterThan(150 * MiB);
        expect(r.pid).to.equal(pid);
        expect(used(f).worker).to.match(new RegExp(`:${pid}$`));
        expect(r.exitStatus).to.equal(undefined);
      });
    }

    if (htex) {
      it("a CPU-bound app reports the CPU it used, and a wall time at least as long", async () => {
        const f = burnCpu(600);
        await f;
        const r = used(f).resources!;
        expect(r.cpuUserMs + r.cpuSystemMs).to.be.within(600, 700);
        expect(r.cpuUserMs).to.be.greaterThan(450);
        expect(r.wallMs).to.be.at.least(r.cpuUserMs + r.cpuSystemMs - 20);
      });
    } else {
      it("a CPU-bound app reports its own thread's CPU, not the process's", async () => {
        // Both threads load the app first, so that neither competes with a module load.
        await Promise.all([burn(1), burn(1), burnThreadCpu(1), burnThreadCpu(1)]);
        // Another task burns on the other thread meanwhile: process-wide CPU would count both.
        const [f, other] = [burnThreadCpu(500), burnThreadCpu(500)];
        const [{ processCpuMs }] = await Promise.all([f, other]);
        const r = used(f).resources!;
        const cpu = r.cpuUserMs + r.cpuSystemMs;
        expect(cpu).to.be.within(500, 560);
        expect(r.cpuUserMs).to.be.greaterThan(cpu * 0.7);
        expect(processCpuMs).to.be.greaterThan(cpu * 1.2);
        expect(r.wallMs).to.be.at.least(cpu - 20);
      });
    }

    it("a shell app reports its child's peak memory, the tree's CPU and its exit status", async () => {
      const f = sh(
        "python3 -c 'import time; x=bytearray(200*1024*1024); t=time.time()\nwhile time.time()-t<0.5: pass'",
      );
      expect(await f).to.equal(0);
      const r = used(f).resources!;
      expect(r.peakRssKiB).to.be.greaterThan(200 * MiB);
      expect(r.exitStatus).to.equal(0);
      // python ran 0.5 s on the CPU in a child of the command's shell: counted once it was waited for.
      expect(r.cpuUserMs + r.cpuSystemMs).to.be.greaterThan(400);
      expect(r.wallMs).to.be.greaterThan(500);
    });

    it("a failing shell app still reports what it used, with its exit status", async () => {
      const f = sh("head -c 50M /dev/zero | tail -c 1 >/dev/null; exit 3");
      const e = await rejection(f);
      expect(e).to.be.instanceOf(ShellExitError);
      const r = used(f).resources!;
      expect(r.exitStatus).to.equal(3);
      expect(r.peakRssKiB).to.be.greaterThan(0);
    });

    it("a shell app over resources.memory is killed with its whole group and fails with ResourceExceededError", async () => {
      on.measure = false;
      const pidFile = path.join(tmp.dir, `group-${c.name}`);
      const started = Date.now();
      const f = shInGroup(pidFile, "python3 -c 'import time; x=bytearray(400*1024*1024); time.sleep(60)' & wait", {
        resources: { memory: 150 },
      });
      const e = await rejection(f);
      expect(e).to.be.instanceOf(ResourceExceededError);
      const err = e as ResourceExceededError;
      expect(err.code).to.equal("TASKLOOM_RESOURCE_EXCEEDED");
      expect(err.resource).to.equal("memory");
      expect(err.limit).to.equal(150);
      expect(err.used).to.be.greaterThan(150);
      expect(err.message).to.equal(
        `task ${f.taskId} (app shInGroup) used ${err.used} MB of memory, over its limit of 150 MB (resources.memory)`,
      );
      expect(Date.now() - started).to.be.lessThan(30_000);
      const pgid = Number(fs.readFileSync(pidFile, "utf8"));
      expect(await until(() => groupMembers(pgid).length === 0, 5000)).to.equal(true);
      // Not measured: nothing was reported beyond the run time.
      expect(used(f).resources).to.equal(undefined);
      expect(await sh("true")).to.equal(0);
    });

    it("a measured shell app killed over its limit reports the peak that exceeded it", async () => {
      const f = sh("python3 -c 'import time; x=bytearray(300*1024*1024); time.sleep(60)'", {
        resources: { memory: 100 },
      });
      const e = (await rejection(f)) as ResourceExceededError;
      expect(e).to.be.instanceOf(ResourceExceededError);
      const r = used(f).resources!;
      expect(r.peakRssKiB).to.be.greaterThan(100 * MiB);
      expect(r.exitStatus).to.equal(137);
    });

    if (htex) {
      it("a JS app over resources.memory kills its worker, fails with ResourceExceededError, and the pool goes on", async () => {
        on.measure = false;
        // It never yields: the limit is enforced from outside the worker.
        const f = allocate(400, 60_000, { resources: { memory: 300 } });
        const e = await rejection(f);
        expect(e).to.be.instanceOf(ResourceExceededError);
        const err = e as ResourceExceededError;
        expect(err.limit).to.equal(300);
        expect(err.used).to.be.greaterThan(300);
        expect(err.message).to.match(
          new RegExp(`^task ${f.taskId} \\(app allocate\\) used \\d+ MB of memory, over its limit of 300 MB`),
        );
        const later = await Promise.all([allocate(1, 0), allocate(1, 0), noop(), noop()]);
        expect(later[0].bytes).to.equal(1024 * 1024);
      });

      it("a measured JS app killed over its limit reports what its worker used", async () => {
        const f = allocate(400, 60_000, { resources: { memory: 300 } });
        const e = (await rejection(f)) as ResourceExceededError;
        expect(e).to.be.instanceOf(ResourceExceededError);
        const r = used(f).resources!;
        expect(r.peakRssKiB).to.be.greaterThan(300 * MiB);
        expect(r.cpuUserMs + r.cpuSystemMs).to.be.greaterThan(0);
        expect(await until(() => processGone(r.pid), 5000)).to.equal(true);
      });

      it("a JS app within its limit is not disturbed", async () => {
        const f = allocate(20, 100, { resources: { memory: 2000 } });
        expect((await f).bytes).to.equal(20 * 1024 * 1024);
        expect(used(f).resources!.peakRssKiB).to.be.lessThan(2000 * MiB);
      });
    } else {
      it("a JS app's memory limit is not enforced on threads (they share the workflow's process)", async () => {
        const f = allocate(50, 0, { resources: { memory: 1 } });
        expect((await f).bytes).to.equal(50 * 1024 * 1024);
      });
    }

    it("with measure off nothing is sampled: no resources, no worker", async () => {
      on.measure = false;
      const fs_ = [burn(50), sh("true"), noop()];
      await Promise.all(fs_);
      for (const f of fs_) {
        expect(used(f).resources).to.equal(undefined);
        expect(used(f).worker).to.equal(undefined);
        expect(used(f).runMs).to.be.a("number");
      }
    });
  });
}

describe("resource monitoring end to end (monitoring: { resources })", function () {
  this.timeout(120_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  let n = 0;
  const start = (cfg: Config): Promise<DataFlowKernel> =>
    load({ runDir: path.join(tmp.dir, `run${n++}`), initializeLogging: false, ...cfg }).then((x) => (k = x));
  afterEach(async () => {
    await k?.cleanup();
    k = undefined;
  });
  after(() => tmp.remove());

  it("sets future.resourcesMeasured when resource monitoring is on, and leaves it unset when off", async () => {
    await start({ executors: [cases[1]!.make()], monitoring: { resources: true } });
    const f = sh("python3 -c 'import time; x=bytearray(100*1024*1024); time.sleep(0.3)'");
    await f;
    expect(f.resourcesMeasured?.peakRssKiB).to.be.greaterThan(100 * MiB);
    expect(f.resourcesMeasured?.exitStatus).to.equal(0);
    await k!.cleanup();
    await start({ executors: [cases[1]!.make()], monitoring: { resources: false } });
    const g = sh("true");
    await g;
    expect(g.resourcesMeasured).to.equal(undefined);
  });

  it("a JS app killed over its limit on HTEX fails with ResourceExceededError on every try, within the retry budget", async () => {
    await start({ executors: [cases[0]!.make()], retries: 1 });
    const tries = path.join(tmp.dir, "tries");
    const e = await rejection(allocateCounted(tries, 400, 60_000, { resources: { memory: 300 } }));
    expect(e).to.be.instanceOf(ResourceExceededError);
    expect(fs.readFileSync(tries, "utf8")).to.equal("try\ntry\n");
    expect(await noop()).to.equal(0);
  });
});
