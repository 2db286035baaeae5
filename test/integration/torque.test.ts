// TorqueProvider for real through SLURM's Torque-compatible qsub/qstat/qdel (Debian's slurm-wlm-torque over the
// SLURM of test/services/slurm-up.sh, set up by test/services/torque-up.sh): qsub prints a bare number, `#PBS -o/-e`
// are ignored and no PBS_* variables reach the job, so this checks the provider copes with that as well as with real
// Torque (whose own output formats are replayed by fakes in pbs-torque-fakes below).
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  HighThroughputExecutor,
  LocalRunner,
  ProviderError,
  SimpleLauncher,
  TorqueProvider,
  type DataFlowKernel,
  type TorqueProviderOptions,
} from "taskloom";
import { fakeScheduler, fixture } from "../helpers/fake-commands.js";
import { serviceSuite } from "../helpers/services.js";
import { providerMaker, settle, CountingRunner, expectFailedBlock, slurmState } from "../helpers/providers.js";
import { rejection } from "../helpers/tmp.js";
import { slurmEnv } from "../fixtures/slurm-apps.js";

// Real Torque itself cannot be installed here: these fakes replay recorded Torque output (test/fixtures/torque).
describe("TorqueProvider (fake Torque commands replaying recorded output)", () => {
  const { dir, fake } = fakeScheduler(["qsub", "qstat", "qdel"]);
  const provider = providerMaker(dir, (o: TorqueProviderOptions) => new TorqueProvider(o));

  it("asks for nodes and ppn, arrays with -t, and launches with aprun by default as Parsl does", async () => {
    const p = await provider({ nodesPerBlock: 2, account: "proj1", queue: "batch" });
    const s = p.script("worker-pool", 4, "block-0");
    expect(s).to.contain("#PBS -l walltime=00:20:00\n#PBS -l nodes=2:ppn=4\n#PBS -A proj1\n#PBS -q batch\n");
    expect(s).to.match(/\naprun -n 8 -N 4 /);
    const a = (await provider({ nodesPerBlock: 3, jobArray: true, launcher: new SimpleLauncher() })).script(
      "w",
      2,
      "b",
    );
    expect(a).to.contain("#PBS -l nodes=1:ppn=2\n#PBS -t 0-2\n");
    expect(a).to.contain("TASKLOOM_INDEX=.${PBS_ARRAY_INDEX:-${PBS_ARRAYID:-0}}");
  });

  it("reads running, queued and completed-with-exit_status jobs from one `qstat -f`", async () => {
    const p = await provider();
    fake.respond("qsub", { stdout: "556491\n" }, { stdout: "546437\n" }, { stdout: "547637\n" });
    const ids = [];
    for (const i of [0, 1, 2]) ids.push(await p.submit("worker-pool", 1, `block-${i}`));
    fake.respond("qstat", { stdout: fixture("torque", "qstat-f.txt") });
    const [running, failed, queued] = await p.status(ids);
    expect(fake.calls("qstat").map((c) => c.argv)).to.deep.equal([["qstat", "-f", "556491", "546437", "547637"]]);
    expect(running!.state).to.equal("running");
    expect(queued!.state).to.equal("pending");
    expect(failed).to.include({ state: "failed", exitCode: 271 });
    expect(failed!.message).to.match(/^the job was killed by signal 15 \(exit status 271\)/);
  });

  it("Torque's qsub errors are ProviderErrors with its message and exit code", async () => {
    const p = await provider({ nodesPerBlock: 64 });
    fake.respond("qsub", { stderr: fixture("torque", "qsub-exceeds.txt"), code: 190 });
    expect(((await rejection(p.submit("w", 1, "block-0"))) as Error).message).to.match(
      /^`qsub .*block-0\.sh` failed with exit code 190: qsub: Job exceeds queue resource limits MSG=cannot locate feasible nodes$/,
    );
  });
});

describe("TorqueProvider on SLURM's Torque commands (slurm-wlm-torque)", function () {
  this.timeout(240_000);
  const tmp = serviceSuite("torque", "dpkg -s slurm-wlm-torque >/dev/null && sinfo -h -o '%T %D' | grep -q '^idle 2$'");

  const provider = providerMaker(
    tmp.dir,
    (o: TorqueProviderOptions) => new TorqueProvider({ launcher: new SimpleLauncher(), ...o }),
  );

  it("submits with qsub (nodes/ppn, walltime, queue, account in the script), sees it run, cancels it with qdel", async () => {
    const p = await provider({ walltime: "00:05:00", queue: "debug", account: "taskloom" });
    const id = await p.submit("sleep 60", 2, "block-0");
    expect(id).to.match(/^\d+$/);
    const script = fs.readFileSync(path.join(provider.lastRunDir(), "submit_scripts", "block-0.sh"), "utf8");
    expect(script).to.match(/^#!\/bin\/bash\n#PBS -S \/bin\/bash\n#PBS -N block-0\n/);
    expect(script).to.contain("#PBS -l walltime=00:05:00\n#PBS -l nodes=1:ppn=2\n");
    expect(script).to.contain("#PBS -A taskloom\n#PBS -q debug\n");
    expect((await settle(p, id, (s) => s.state === "running")).state).to.equal("running");
    const ctl = await new LocalRunner().run(["scontrol", "show", "job", "-o", id], { timeoutMs: 20_000 });
    expect(ctl.stdout).to.match(/TimeLimit=00:05:00/);
    expect(ctl.stdout).to.match(/Account=taskloom/);
    expect(await p.cancel([id])).to.deep.equal([true]);
    expect((await p.status([id]))[0]!.state).to.equal("cancelled");
    expect(await slurmState(id, "CA")).to.equal("CA");
  });

  it("reports a failed job with its exit code and the tail of its stderr, though qstat shows only C", async () => {
    const p = await provider();
    const st = await expectFailedBlock(p, "block-1");
    // slurm-wlm-torque ignores `#PBS -e`: the script's own redirection put stderr where the provider says.
    expect(st.stderrPath).to.equal(path.join(provider.lastRunDir(), "submit_scripts", "block-1.err"));
    const ok = await p.submit("echo fine", 1, "block-2");
    const done = await settle(p, ok, (s) => s.state === "failed" || s.state === "completed");
    expect(done).to.include({ state: "completed", exitCode: 0 });
    expect(fs.readFileSync(done.stdoutPath!, "utf8")).to.equal("fine\n");
  });

  it("polls every block with one qstat and cancels them with one qdel", async () => {
    const runner = new CountingRunner();
    const p = await provider({ channel: runner });
    const ids = await Promise.all([0, 1, 2].map((i) => p.submit("sleep 30", 1, `block-${i}`)));
    runner.calls.length = 0;
    const st = await p.status(ids);
    expect(st.map((s) => s.state).every((s) => s === "pending" || s === "running")).to.equal(true);
    expect(runner.calls).to.deep.equal([["qstat", "-f", ...ids]]);
    expect(await p.cancel(ids)).to.deep.equal([true, true, true]);
    expect(runner.calls.slice(1)).to.deep.equal([["qdel", ...ids]]);
  });

  it("a qsub error is a ProviderError with the command, exit code and the scheduler's message", async () => {
    const p = await provider({ queue: "nope" });
    const e = await rejection(p.submit("true", 1, "block-9"));
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(
      /`qsub -o .*block-9\.pbs\.out .*block-9\.sh` failed with exit code 1: .*Invalid partition/s,
    );
  });

  describe("a workflow on workers that Torque (SLURM underneath) started", () => {
    let k: DataFlowKernel | undefined;
    afterEach(async () => {
      await k?.cleanup();
      k = undefined;
    });

    it("runs tasks in the block's job, which has ended after cleanup", async () => {
      const provider = new TorqueProvider({ launcher: new SimpleLauncher(), statusPollingInterval: 1 });
      k = await load({
        executors: [new HighThroughputExecutor({ maxWorkersPerNode: 2, provider })],
        runDir: path.join(tmp.dir, "flow"),
        initializeLogging: false,
      });
      const seen = await Promise.all(Array.from({ length: 6 }, () => slurmEnv()));
      const jobs = new Set(seen.map((s) => s.job));
      expect(jobs.size).to.equal(1);
      const job = [...jobs][0]!;
      expect(job).to.match(/^\d+$/);
      expect((await provider.status([job]))[0]!.state).to.equal("running");
      await k.cleanup();
      k = undefined;
      // The pool exits when told to (CD) or is cancelled (CG/CA): either way nothing is left running.
      expect(["CA", "CG", "CD"]).to.include(await slurmState(job, "CD"));
    });
  });
});
