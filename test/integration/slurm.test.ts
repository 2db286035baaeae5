// SlurmProvider against a real SLURM (munge, slurmctld and two slurmd "nodes" n1, n2 on this machine, set up by
// test/services/slurm-up.sh): sbatch, squeue, scancel, failures with exit code and stderr, and a workflow whose
// workers SLURM started.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  HighThroughputExecutor,
  LocalRunner,
  ProviderError,
  SimpleLauncher,
  SlurmProvider,
  SrunLauncher,
  type DataFlowKernel,
  type JobStatus,
  type SlurmProviderOptions,
} from "taskloom";
import { serviceSuite } from "../helpers/services.js";
import { providerMaker, settle, CountingRunner, expectFailedBlock, slurmState } from "../helpers/providers.js";
import { rejection } from "../helpers/tmp.js";
import { slurmEnv } from "../fixtures/slurm-apps.js";

describe("SlurmProvider on a real SLURM", function () {
  this.timeout(240_000);
  const tmp = serviceSuite("slurm", "sinfo -h -o '%T %D' | grep -q '^idle 2$'");

  const provider = providerMaker(
    tmp.dir,
    (o: SlurmProviderOptions) => new SlurmProvider({ launcher: new SimpleLauncher(), exclusive: false, ...o }),
  );

  it("submits with sbatch, sees the job run, cancels it with scancel", async () => {
    const p = await provider({ walltime: "00:05:00", schedulerOptions: "#SBATCH --comment=taskloom-test" });
    const id = await p.submit("sleep 60", 1, "block-0");
    expect(id).to.match(/^\d+$/);
    const script = fs.readFileSync(path.join(provider.lastRunDir(), "submit_scripts", "block-0.sh"), "utf8");
    expect(script).to.match(/^#!\/bin\/bash\n#SBATCH --job-name=block-0\n/);
    expect(script).to.contain("#SBATCH --time=00:05:00\n");
    expect(script).to.contain("#SBATCH --comment=taskloom-test\n");
    expect((await settle(p, id, (s) => s.state === "running")).state).to.equal("running");
    expect(await p.cancel([id])).to.deep.equal([true]);
    expect((await p.status([id]))[0]!.state).to.equal("cancelled");
    expect(await slurmState(id, "CA")).to.equal("CA");
  });

  it("reports a failed job with its exit code and the tail of its stderr", async () => {
    await expectFailedBlock(await provider(), "block-1");
  });

  it("polls every block with one squeue", async () => {
    const runner = new CountingRunner();
    const p = await provider({ channel: runner });
    const ids = await Promise.all([0, 1, 2].map((i) => p.submit("sleep 30", 1, `block-${i}`)));
    runner.calls.length = 0;
    const st = await p.status(ids);
    expect(st.map((s) => s.state).every((s) => s === "pending" || s === "running")).to.equal(true);
    expect(runner.calls.map((c) => c[0])).to.deep.equal(["squeue"]);
    await p.cancel(ids);
    expect(runner.calls.filter((c) => c[0] === "scancel")).to.have.length(1);
  });

  it("an sbatch error is a ProviderError with the command, exit code and SLURM's message", async () => {
    const p = await provider({ partition: "nope" });
    const e = await rejection(p.submit("true", 1, "block-9"));
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(
      /`sbatch --parsable .*block-9\.sh` failed with exit code 1: .*Invalid partition/s,
    );
  });

  describe("a workflow on workers that SLURM started", () => {
    let k: DataFlowKernel | undefined;
    afterEach(async () => {
      await k?.cleanup();
      k = undefined;
    });

    it("notices a block that reached its walltime and replaces it for later tasks", async () => {
      const provider = new SlurmProvider({ walltime: "00:01:00", exclusive: false, statusPollingInterval: 1 });
      k = await load({
        executors: [new HighThroughputExecutor({ maxWorkersPerNode: 1, provider })],
        runDir: path.join(tmp.dir, "walltime"),
        initializeLogging: false,
        strategyPeriod: 0.5,
      });
      const first = await slurmEnv();
      // SLURM checks limits about every 30 s, so a 1-minute job ends 60–90 s after it started.
      let st: JobStatus = { state: "running" };
      for (let i = 0; i < 200 && st.state === "running"; i++) {
        await new Promise((r) => setTimeout(r, 500));
        [st] = (await provider.status([first.job!])) as [JobStatus];
      }
      expect(st.state).to.equal("failed");
      expect(st.message).to.match(/walltime \(TIMEOUT\)/);
      const next = await slurmEnv();
      expect(next.job).to.match(/^\d+$/);
      expect(next.job).to.not.equal(first.job);
    });

    it("runs tasks on both nodes of a 2-node block started with srun, and ends the block at cleanup", async () => {
      k = await load({
        executors: [
          new HighThroughputExecutor({
            maxWorkersPerNode: 1,
            provider: new SlurmProvider({
              nodesPerBlock: 2,
              launcher: new SrunLauncher(),
              exclusive: false,
              statusPollingInterval: 1,
            }),
          }),
        ],
        runDir: path.join(tmp.dir, "flow"),
        initializeLogging: false,
      });
      const seen = await Promise.all(Array.from({ length: 8 }, () => slurmEnv()));
      const jobs = new Set(seen.map((s) => s.job));
      expect(jobs.size).to.equal(1);
      expect([...jobs][0]).to.match(/^\d+$/);
      expect(new Set(seen.map((s) => s.node))).to.deep.equal(new Set(["n1", "n2"]));
      const job = [...jobs][0]!;
      await k.cleanup();
      k = undefined;
      const r = await new LocalRunner().run(["squeue", "-h", "-t", "all", "-j", job, "-o", "%t"], {
        timeoutMs: 20_000,
      });
      // Cleanup tells the pool to stop and cancels the block: it ends either way first (CD when the pool's exit ended
      // the job before scancel came, CG/CA when scancel did); nothing of it is left running.
      expect(["CA", "CG", "CD"]).to.include(r.stdout.trim());
    });
  });
});
