// PBSProProvider against fake qsub/qstat/qdel: PBS Pro / OpenPBS cannot be installed here (no package in Debian or
// npm), so the fakes replay output recorded from real PBS Pro servers (test/fixtures/pbspro, sources in its
// README.md). What is checked is what a user sees: the script qsub gets, the ids kept, block states and exit codes
// from one `qstat -x -f`, qdel, and scheduler errors and hangs as ProviderErrors.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, PBSProProvider, ProviderError, type PBSProProviderOptions } from "taskloom";
import { nullLogger } from "../../lib/logging.js";
import { fakeScheduler, fixture } from "../helpers/fake-commands.js";
import { providerMaker } from "../helpers/providers.js";
import { rejection } from "../helpers/tmp.js";

const RUNNING = fixture("pbspro", "qstat-f-running.txt"); // 4.scheduler, job_state = R
const FAILED = fixture("pbspro", "qstat-xf-failed.txt"); // 49223.gc-prd-hpcadm, F, Exit_status = 271
const FINISHED = fixture("pbspro", "qstat-xf-finished.txt"); // 7600424.pbs02, F, Exit_status = 0

describe("PBSProProvider (fake PBS commands replaying recorded output)", function () {
  const { dir, fake } = fakeScheduler(["qsub", "qstat", "qdel"]);
  const provider = providerMaker(dir, (o: PBSProProviderOptions) => new PBSProProvider(o));
  const scriptDir = (): string => path.join(provider.lastRunDir(), "submit_scripts");
  const submitAs = async (p: PBSProProvider, ...ids: string[]): Promise<string[]> => {
    fake.respond("qsub", ...ids.map((id) => ({ stdout: `${id}\n` })));
    const out: string[] = [];
    for (const [i] of ids.entries()) out.push(await p.submit("worker-pool", 1, `block-${i}`));
    return out;
  };
  const qstatCalls = (): string[][] => fake.calls("qstat").map((c) => c.argv);

  it("renders the select statement, walltime, account, queue and extra directives into the script", async () => {
    const p = await provider({
      account: "proj1",
      queue: "debug",
      nodesPerBlock: 2,
      cpusPerNode: 64,
      selectOptions: "ngpus=4",
      schedulerOptions: "#PBS -l filesystems=home",
      workerInit: "module load nodejs",
    });
    const s = p.script("worker-pool", 1, "block-0");
    expect(s).to.match(/^#!\/bin\/bash\n#PBS -S \/bin\/bash\n#PBS -N block-0\n#PBS -m n\n/);
    // Parsl's default walltime for PBS Pro is 20 minutes.
    expect(s).to.contain("#PBS -l walltime=00:20:00\n#PBS -l select=2:ncpus=64:ngpus=4\n");
    expect(s).to.contain("#PBS -A proj1\n#PBS -q debug\n#PBS -l filesystems=home\n");
    expect(s).to.not.contain("#PBS -J");
    expect(s.indexOf("module load nodejs")).to.be.greaterThan(s.indexOf("#PBS -l filesystems=home"));
    expect(s).to.match(/echo \$TASKLOOM_RC > \S+\/block-0\.ec\n/);
    expect((await provider({ selectOptions: ":mem=64gb" })).script("x", 1, "b")).to.contain(
      "#PBS -l select=1:ncpus=1:mem=64gb\n",
    );
  });

  it("with jobArray, a block is an array (-J) of single-node subjobs, each writing its own exit code file", async () => {
    const p = await provider({ jobArray: true, nodesPerBlock: 3, cpusPerNode: 8 });
    const s = p.script("worker-pool", 2, "block-0");
    expect(s).to.contain("#PBS -l select=1:ncpus=8\n#PBS -J 0-2\n");
    expect(s).to.contain("echo $TASKLOOM_RC > ");
    expect(s).to.match(/block-0\$\{TASKLOOM_INDEX\}\.ec\n/);
    // A one-node block stays a plain job (PBS refuses single-index arrays).
    expect((await provider({ jobArray: true })).script("x", 1, "b")).to.not.contain("#PBS -J");
  });

  it("submits with qsub, keeps the full job id it printed and the script in submit_scripts", async () => {
    const p = await provider();
    fake.respond("qsub", { stdout: fixture("pbspro", "qsub.txt") });
    const id = await p.submit("worker-pool", 1, "block-0");
    expect(id).to.equal("49230.gc-prd-hpcadm");
    const [call] = fake.calls("qsub").slice(-1);
    const dir = scriptDir();
    expect(call!.argv).to.deep.equal([
      "qsub",
      "-o",
      `${dir}/block-0.pbs.out`,
      "-e",
      `${dir}/block-0.pbs.err`,
      `${dir}/block-0.sh`,
    ]);
    expect(fs.readFileSync(`${dir}/block-0.sh`, "utf8")).to.contain("#PBS -N block-0\n");
  });

  it("polls every block with one `qstat -x -f` and reads running, finished and failed (with exit status) from it", async () => {
    const p = await provider();
    const ids = await submitAs(p, "4.scheduler", "49223.gc-prd-hpcadm", "7600424.pbs02");
    const before = qstatCalls().length;
    fake.respond("qstat", { stdout: `${RUNNING}\n${FAILED}\n${FINISHED}` });
    const [running, failed, done] = await p.status(ids);
    expect(qstatCalls().slice(before)).to.deep.equal([["qstat", "-x", "-f", ...ids]]);
    expect(running!.state).to.equal("running");
    expect(failed).to.include({ state: "failed", exitCode: 271 });
    expect(failed!.message).to.match(/^the job was killed by signal 15 \(exit status 271\); stderr: \(none\)$/);
    expect(done).to.include({ state: "completed", exitCode: 0 });
    expect(done!.stdoutPath).to.equal(`${scriptDir()}/block-2.out`);
    // Ended blocks keep their status; only the live one is asked about again.
    await p.status(ids);
    expect(qstatCalls().slice(-1)).to.deep.equal([["qstat", "-x", "-f", "4.scheduler"]]);
  });

  it("maps queued, held, waiting and exiting jobs, and takes the script's own exit code over qstat's", async () => {
    const p = await provider();
    const [id] = await submitAs(p, "4.scheduler");
    for (const [letter, state] of [
      ["Q", "pending"],
      ["H", "pending"],
      ["W", "pending"],
      ["E", "running"],
      ["M", "unknown"],
    ]) {
      fake.respond("qstat", { stdout: RUNNING.replace("job_state = R", `job_state = ${letter}`) });
      expect((await p.status([id!]))[0]!.state, letter).to.equal(state);
    }
    fs.writeFileSync(`${scriptDir()}/block-0.ec`, "3\n");
    fake.respond("qstat", { stdout: FINISHED.replace("7600424.pbs02", "4.scheduler") });
    const [st] = await p.status([id!]);
    expect(st).to.include({ state: "failed", exitCode: 3 });
    expect(st!.message).to.match(/^exit code 3; stderr:/);
  });

  it("a job qstat no longer knows ends by its exit code file, or after a grace period as lost", async () => {
    class Impatient extends PBSProProvider {
      protected override goneGraceMs = 0;
    }
    const p = await provider();
    const [a, b] = await submitAs(p, "2001.g3", "2002.g3");
    fs.writeFileSync(`${scriptDir()}/block-0.ec`, "0\n");
    fake.respond("qstat", {
      stderr: fixture("pbspro", "qstat-unknown.txt") + "qstat: Unknown Job Id 2002.g3\n",
      code: 153,
    });
    const [gone, missing] = await p.status([a!, b!]);
    expect(gone).to.include({ state: "completed", exitCode: 0 });
    // No exit code file yet: still what it was, until the grace period is over.
    expect(missing!.state).to.equal("pending");
    const q = new Impatient();
    await q.start({ runDir: path.join(dir, "impatient"), logger: nullLogger });
    const [c] = await submitAs(q, "2003.g3");
    const [lost] = await q.status([c!]);
    expect(lost!.state).to.equal("failed");
    expect(lost!.message).to.match(/ended without an exit code/);
  });

  it("an array block is running while any subjob runs, and fails if any subjob failed", async () => {
    const p = await provider({ jobArray: true, nodesPerBlock: 2 });
    const [id] = await submitAs(p, "7600424[].pbs02");
    // The finished record, renamed to the array and its two subjobs (see the fixtures' README).
    const as = (jid: string, state: string, exit?: number): string =>
      FINISHED.replace("7600424.pbs02", jid)
        .replace("job_state = F", `job_state = ${state}`)
        .replace(/ {4}Exit_status = 0\n/, exit === undefined ? "" : `    Exit_status = ${exit}\n`);
    fake.respond("qstat", {
      stdout: [as("7600424[].pbs02", "B"), as("7600424[0].pbs02", "X", 0), as("7600424[1].pbs02", "R")].join("\n"),
    });
    expect((await p.status([id!]))[0]!.state).to.equal("running");
    expect(qstatCalls().slice(-1)).to.deep.equal([["qstat", "-x", "-f", "-t", "7600424[].pbs02"]]);
    fake.respond("qstat", {
      stdout: [as("7600424[].pbs02", "F"), as("7600424[0].pbs02", "X", 0), as("7600424[1].pbs02", "X", -29)].join("\n"),
    });
    const [st] = await p.status([id!]);
    expect(st).to.include({ state: "failed", exitCode: -29 });
    expect(st!.message).to.match(/^subjob 1: the job reached its walltime \(JOB_EXEC_KILL_WALLTIME\); stderr:/);
  });

  it("cancels live blocks with one qdel", async () => {
    const p = await provider();
    const ids = await submitAs(p, "4.scheduler", "5.scheduler");
    fake.respond("qdel", {});
    expect(await p.cancel([...ids, "99.elsewhere"])).to.deep.equal([true, true, false]);
    expect(fake.calls("qdel").slice(-1)[0]!.argv).to.deep.equal(["qdel", ...ids]);
    expect((await p.status(ids)).map((s) => s.state)).to.deep.equal(["cancelled", "cancelled"]);
  });

  it("qsub errors are ProviderErrors with the command, exit code and PBS's message", async () => {
    const p = await provider({ queue: "nope" });
    fake.respond("qsub", { stderr: fixture("pbspro", "qsub-unknown-queue.txt"), code: 1 });
    const e = await rejection(p.submit("worker-pool", 1, "block-0"));
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(
      /^`qsub -o \S+ -e \S+ \S+\/block-0\.sh` failed with exit code 1: qsub: Unknown queue$/,
    );
    fake.respond("qsub", { stderr: fixture("pbspro", "qsub-limits.txt"), code: 188 });
    expect(((await rejection(p.submit("worker-pool", 1, "block-1"))) as Error).message).to.match(
      /failed with exit code 188: qsub: Job violates queue and\/or server resource limits$/,
    );
  });

  it("a qstat that fails or hangs is a ProviderError (after cmdTimeout), never a hang", async () => {
    const p = await provider({ cmdTimeout: 0.5 });
    const [id] = await submitAs(p, "4.scheduler");
    fake.respond("qstat", { stderr: "qstat: cannot connect to server s034-lc (errno=15010)\n", code: 162 });
    expect(((await rejection(p.status([id!]))) as Error).message).to.match(
      /^`qstat -x -f 4\.scheduler` failed with exit code 162: qstat: cannot connect to server/,
    );
    fake.respond("qstat", { hang: 5, stdout: RUNNING });
    const t0 = Date.now();
    const e = await rejection(p.status([id!]));
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(/`qstat -x -f 4\.scheduler` did not finish within 0\.5 s/);
    expect(Date.now() - t0).to.be.lessThan(4000);
  });

  it("refuses bad options with a ConfigError naming the option, what was given and what is allowed", () => {
    const bad = (o: unknown): string => {
      try {
        new PBSProProvider(o as PBSProProviderOptions);
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error("no error");
    };
    expect(bad({ cpusPerNode: 0 })).to.match(/^PBSProProvider options\.cpusPerNode: expected an integer >= 1, got 0/);
    expect(bad({ selectOptions: "ngpus=4 mem=1gb" })).to.match(
      /options\.selectOptions: expected .* got "ngpus=4 mem=1gb"/,
    );
    expect(bad({ account: "my project" })).to.match(
      /options\.account: expected a non-empty string without spaces, got "my project"/,
    );
    expect(bad({ jobArray: "yes" })).to.match(/^PBSProProvider options\.jobArray: expected true or false, got "yes"/);
    expect(bad({ walltime: "20 min" })).to.match(/options\.walltime: expected "HH:MM:SS"/);
    expect(bad({ partition: "x" })).to.match(/options\.partition: unknown option; allowed: .*selectOptions/);
  });
});
