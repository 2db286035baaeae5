// LSFProvider against fake bsub, bjobs and bkill: IBM Spectrum LSF cannot be installed here, so the fakes replay
// output recorded on real LSF clusters (test/fixtures/lsf, sources in its README). The workflow at the end runs
// through a small stand-in for LSF that starts the script bsub got on stdin and answers in LSF's words.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  ConfigError,
  HighThroughputExecutor,
  LSFProvider,
  ProviderError,
  SimpleLauncher,
  type DataFlowKernel,
  type JobStatus,
  type LSFProviderOptions,
} from "taskloom";
import { nullLogger } from "../../lib/logging.js";
import { FakeCommands, fixture } from "../helpers/fake-commands.js";
import { processGone, rejection, tmpDir, until } from "../helpers/tmp.js";
import { lsfJob } from "../fixtures/lsf/apps.js";

// The recorded bsub answer, with another job id where a test needs several blocks.
const submitted = (id: string): string => fixture("lsf", "bsub-submitted.txt").replace("764254593", id);
const STATES = fixture("lsf", "bjobs-states.txt");

describe("LSFProvider (fake LSF commands replaying recorded output)", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let fake: FakeCommands;
  before(() => {
    fake = new FakeCommands(tmp.dir, ["bsub", "bjobs", "bkill"]).install();
  });
  after(() => {
    fake.uninstall();
    tmp.remove();
  });
  let n = 0;
  const runDir = (): string => path.join(tmp.dir, `run${n}`);
  const provider = async (o: LSFProviderOptions = {}): Promise<LSFProvider> => {
    const p = new LSFProvider({ launcher: new SimpleLauncher(), ...o });
    n++;
    await p.start({ runDir: runDir(), logger: nullLogger });
    return p;
  };
  const scriptOf = (name: string): string =>
    fs.readFileSync(path.join(runDir(), "submit_scripts", `${name}.sh`), "utf8");
  const lastCall = (name: string) => fake.calls(name).at(-1)!;

  describe("submitting", () => {
    it("pipes the script to bsub on stdin and takes the job id from LSF's answer", async () => {
      fake.respond("bsub", { stdout: fixture("lsf", "bsub-submitted.txt") });
      const p = await provider({ project: "ABC123", queue: "test", walltime: "01:30:20", nodesPerBlock: 2 });
      const id = await p.submit("taskloom worker-pool", 1, "block-0");
      expect(id).to.equal("764254593");
      const call = lastCall("bsub");
      expect(call.argv).to.deep.equal(["bsub"]);
      expect(call.stdin).to.equal(scriptOf("block-0"));
      const base = path.join(runDir(), "submit_scripts", "block-0");
      expect(call.stdin).to.match(
        new RegExp(
          `^#!/bin/bash\n#BSUB -J block-0\n#BSUB -o ${base}\\.out\n#BSUB -e ${base}\\.err\n#BSUB -W 1:31\n` +
            "#BSUB -P ABC123\n#BSUB -q test\n#BSUB -nnodes 2\n",
        ),
      );
      expect(call.stdin).to.contain("taskloom worker-pool");
      expect(call.stdin).to.contain(`echo $TASKLOOM_RC > ${base}.ec`);
    });

    it("asks for cores spread over nodes with -n and span[ptile] when requestByNodes is false", async () => {
      fake.respond("bsub", { stdout: fixture("lsf", "bsub-submitted.txt") });
      const p = await provider({ requestByNodes: false, coresPerBlock: 64, coresPerNode: 32 });
      expect(p.nodesPerBlock).to.equal(2);
      await p.submit("true", 1, "block-1");
      const script = lastCall("bsub").stdin;
      expect(script).to.contain('#BSUB -n 64\n#BSUB -R "span[ptile=32]"\n');
      expect(script).to.not.contain("-nnodes");
      expect(script).to.contain("export TASKLOOM_CORES=32\n");
    });

    it("converts walltime to LSF's [H:]MM, rounding seconds up", async () => {
      const cases: [string, string][] = [
        ["00:10:00", "0:10"],
        ["00:00:30", "0:01"],
        ["02:00:01", "2:01"],
        ["2-00:00:00", "48:00"],
        ["45:00", "0:45"],
      ];
      for (const [walltime, w] of cases) {
        fake.respond("bsub", { stdout: fixture("lsf", "bsub-submitted.txt") });
        const p = await provider({ walltime });
        await p.submit("true", 1, "block-w");
        expect(lastCall("bsub").stdin, walltime).to.contain(`#BSUB -W ${w}\n`);
      }
    });

    it("puts scheduler options among the directives and worker init before the command", async () => {
      fake.respond("bsub", { stdout: fixture("lsf", "bsub-submitted.txt") });
      const p = await provider({
        schedulerOptions: '#BSUB -R "rusage[mem=4000]"\n#BSUB -alloc_flags smt4',
        workerInit: "module load nodejs",
      });
      await p.submit("taskloom worker-pool", 1, "block-2");
      const script = lastCall("bsub").stdin;
      expect(script).to.contain('#BSUB -nnodes 1\n#BSUB -R "rusage[mem=4000]"\n#BSUB -alloc_flags smt4\n\n');
      expect(script.indexOf("module load nodejs")).to.be.lessThan(script.indexOf("taskloom worker-pool"));
      expect(script).to.not.match(/#BSUB -[Pq] /);
    });

    it("passes the script path instead when bsubRedirection is false (Parsl's bsub script)", async () => {
      fake.respond("bsub", { stdout: fixture("lsf", "bsub-submitted.txt") });
      const p = await provider({ bsubRedirection: false });
      await p.submit("true", 1, "block-3");
      const call = lastCall("bsub");
      expect(call.argv).to.deep.equal(["bsub", path.join(runDir(), "submit_scripts", "block-3.sh")]);
      expect(call.stdin).to.equal("");
    });

    it("finds the id after other lines and in the default-queue form", async () => {
      fake.respond(
        "bsub",
        { stdout: fixture("lsf", "bsub-generic-job.txt") },
        { stdout: fixture("lsf", "bsub-default-queue.txt") },
      );
      const p = await provider();
      expect(await p.submit("true", 1, "block-4")).to.equal("473713");
      expect(await p.submit("true", 1, "block-5")).to.equal("5583");
    });

    for (const [file, said] of [
      ["bsub-no-queue.err", /No such queue\. Job not submitted/],
      ["bsub-too-many-processors.err", /Too many processors requested/],
      ["bsub-summit-no-project.txt", /Project not specified\. {2}Please specify a project using the -P flag/],
    ] as const) {
      it(`a rejected submission is a ProviderError with bsub's exit code and message (${file})`, async () => {
        fake.respond("bsub", { stderr: fixture("lsf", file), code: 255 });
        const p = await provider({ queue: "nosuch" });
        const e = await rejection(p.submit("true", 1, "block-6"));
        expect(e).to.be.instanceOf(ProviderError);
        expect((e as Error).message).to.match(/`bsub` failed with exit code 255: /);
        expect((e as Error).message).to.match(said);
      });
    }

    it("an answer without a job id is a ProviderError quoting it", async () => {
      fake.respond("bsub", { stdout: "LSF is processing your request. Please wait ...\n" });
      const p = await provider();
      const e = await rejection(p.submit("true", 1, "block-7"));
      expect(e).to.be.instanceOf(ProviderError);
      expect((e as Error).message).to.match(/printed no job id: "LSF is processing your request/);
    });
  });

  describe("status", () => {
    const IDS = STATES.trim()
      .split("\n")
      .map((l) => l.split("|")[0]!);
    // A provider that submitted one block per row of the recorded bjobs output.
    const withBlocks = async (o: LSFProviderOptions = {}): Promise<LSFProvider> => {
      fake.respond("bsub", ...IDS.map((id) => ({ stdout: submitted(id) })));
      const p = await provider(o);
      for (const [i, id] of IDS.entries()) expect(await p.submit("true", 1, `block-${i}`)).to.equal(id);
      return p;
    };

    it("maps every LSF state from one bjobs call for all blocks", async () => {
      const p = await withBlocks();
      fs.writeFileSync(path.join(runDir(), "submit_scripts", "block-6.err"), "worker killed\n");
      fake.respond("bjobs", { stdout: STATES });
      const before = fake.calls("bjobs").length;
      const st = await p.status(IDS);
      expect(fake.calls("bjobs").length - before).to.equal(1);
      expect(lastCall("bjobs").argv).to.deep.equal([
        "bjobs",
        "-a",
        "-noheader",
        "-o",
        "jobid stat exit_code exit_reason delimiter='|'",
        ...IDS,
      ]);
      const byId = Object.fromEntries(IDS.map((id, i) => [id, st[i]!]));
      expect(byId["764220165"]!.state).to.equal("pending");
      expect(byId["3864"]).to.deep.include({ state: "pending", message: "held while pending (PSUSP)" });
      expect(byId["764254593"]!.state).to.equal("running");
      expect(byId["764255172"]!.state).to.equal("running");
      expect(byId["764255172"]!.message).to.match(/USUSP/);
      expect(byId["764245175"]!.message).to.match(/SSUSP/);
      expect(byId["261871"]).to.deep.include({ state: "completed", exitCode: 0 });
      expect(byId["764213236"]!.state).to.equal("failed");
      expect(byId["764213236"]!.message).to.equal(
        "TERM_RUNLIMIT: job killed after reaching LSF run time limit (no exit code); stderr: worker killed",
      );
      expect(byId["764213240"]).to.deep.include({ state: "failed", exitCode: 3 });
      expect(byId["764213240"]!.message).to.match(/^exit code 3; stderr: \(none\)/);
      expect(byId["764213241"]).to.deep.include({ state: "unknown" });
      expect(byId["764213241"]!.message).to.match(/lost contact/);
      expect(byId["764213242"]!.state).to.equal("failed");
      expect(byId["764213242"]!.message).to.match(/ZOMBI/);
      expect(byId["764254593"]!.stdoutPath).to.equal(path.join(runDir(), "submit_scripts", "block-2.out"));
    });

    it("does not poll jobs that ended, and says unknown for ids it never issued", async () => {
      const p = await withBlocks();
      fake.respond("bjobs", { stdout: STATES });
      await p.status(IDS);
      fake.respond("bjobs", { stdout: "764220165|RUN|-|-\n764254593|RUN|-|-\n" });
      const st = await p.status(["764220165", "261871", "999"]);
      const argv = lastCall("bjobs").argv;
      expect(argv.slice(5)).to.deep.equal(["764220165"]);
      expect(st.map((s) => s.state)).to.deep.equal(["running", "completed", "unknown"]);
    });

    it("a job LSF no longer knows is judged by its exit code file, even when bjobs exits 255", async () => {
      fake.respond("bsub", { stdout: submitted("864220165") }, { stdout: submitted("764254593") });
      const p = await provider();
      const gone = await p.submit("true", 1, "block-a");
      const live = await p.submit("true", 1, "block-b");
      fs.writeFileSync(path.join(runDir(), "submit_scripts", "block-a.ec"), "4\n");
      fake.respond("bjobs", {
        stdout: "764254593|RUN|-|-\n",
        stderr: fixture("lsf", "bjobs-not-found.err"),
        code: 255,
      });
      const [a, b] = await p.status([gone, live]);
      expect(a).to.deep.include({ state: "failed", exitCode: 4 });
      expect(a!.message).to.match(/^exit code 4; stderr:/);
      expect(b!.state).to.equal("running");
    });

    it("a job gone without an exit code file keeps its state for a while, then is failed as lost", async () => {
      fake.respond("bsub", { stdout: submitted("864220165") });
      const p = await provider();
      const id = await p.submit("true", 1, "block-c");
      fake.respond("bjobs", { stdout: "864220165|RUN|-|-\n" });
      expect((await p.status([id]))[0]!.state).to.equal("running");
      // All ids unknown: LSF prints only the stderr line and (as ERT observed) exits 0.
      fake.respond("bjobs", { stderr: fixture("lsf", "bjobs-not-found.err") });
      expect((await p.status([id]))[0]!.state).to.equal("running");
      const realNow = Date.now;
      Date.now = () => realNow() + 60_000;
      let st: JobStatus;
      try {
        [st] = (await p.status([id])) as [JobStatus];
      } finally {
        Date.now = realNow;
      }
      expect(st.state).to.equal("failed");
      expect(st.message).to.match(
        /^LSF no longer lists job 864220165 .*CLEAN_PERIOD\) \(no exit code\); stderr: \(none\)$/,
      );
    });

    it("a failing bjobs is a ProviderError with its command, exit code and stderr", async () => {
      const p = await withBlocks();
      fake.respond("bjobs", { stderr: fixture("lsf", "bjobs-non-lsf-host.err"), code: 255 });
      const e = await rejection(p.status(IDS.slice(0, 2)));
      expect(e).to.be.instanceOf(ProviderError);
      expect((e as Error).message).to.equal(
        "`bjobs -a -noheader -o 'jobid stat exit_code exit_reason delimiter='\\''|'\\''' 764220165 3864` " +
          "failed with exit code 255: Request from non-LSF host rejected",
      );
    });

    it("a hung bjobs is a ProviderError after cmdTimeout", async () => {
      const p = await withBlocks({ cmdTimeout: 1 });
      fake.respond("bjobs", { stdout: STATES, hang: 5 });
      const t0 = Date.now();
      const e = await rejection(p.status(IDS));
      expect(e).to.be.instanceOf(ProviderError);
      expect((e as Error).message).to.match(/`bjobs -a .*` did not finish within 1 s/);
      expect(Date.now() - t0).to.be.lessThan(4000);
    });
  });

  describe("cancelling", () => {
    it("kills live blocks with one bkill and reports them cancelled", async () => {
      fake.respond("bsub", { stdout: submitted("764254593") }, { stdout: submitted("764254594") });
      const p = await provider();
      const a = await p.submit("true", 1, "block-0");
      const b = await p.submit("true", 1, "block-1");
      fake.respond("bkill", { stdout: fixture("lsf", "bkill-terminated.txt") });
      expect(await p.cancel([a, b, "42"])).to.deep.equal([true, true, false]);
      expect(lastCall("bkill").argv).to.deep.equal(["bkill", "764254593", "764254594"]);
      expect((await p.status([a, b])).map((s) => s.state)).to.deep.equal(["cancelled", "cancelled"]);
      const calls = fake.calls("bkill").length;
      expect(await p.cancel([a])).to.deep.equal([false]);
      expect(fake.calls("bkill").length).to.equal(calls);
    });

    it("a job that had already finished is not cancelled, and its end is still reported", async () => {
      fake.respond("bsub", { stdout: submitted("11") });
      const p = await provider();
      const id = await p.submit("true", 1, "block-2");
      fake.respond("bkill", { stderr: fixture("lsf", "bkill-already-finished.err"), code: 255 });
      expect(await p.cancel([id])).to.deep.equal([false]);
      fake.respond("bjobs", { stdout: "11|DONE|-|-\n" });
      expect((await p.status([id]))[0]!.state).to.equal("completed");
    });

    it("a failing bkill is a ProviderError", async () => {
      fake.respond("bsub", { stdout: submitted("12") });
      const p = await provider();
      const id = await p.submit("true", 1, "block-3");
      fake.respond("bkill", { stderr: fixture("lsf", "bjobs-non-lsf-host.err"), code: 255 });
      const e = await rejection(p.cancel([id]));
      expect(e).to.be.instanceOf(ProviderError);
      expect((e as Error).message).to.match(/^`bkill 12` failed with exit code 255: Request from non-LSF host/);
    });
  });

  describe("options", () => {
    const bad: [LSFProviderOptions, RegExp][] = [
      [
        { requestByNodes: false },
        /options\.coresPerBlock: expected an integer >= 1 when requestByNodes is false, got undefined/,
      ],
      [
        { requestByNodes: false, coresPerBlock: 8 },
        /options\.coresPerNode: expected an integer >= 1 when requestByNodes is false, got undefined/,
      ],
      [{ requestByNodes: false, coresPerBlock: 8, coresPerNode: 2.5 }, /options\.coresPerNode: expected an integer/],
      [
        { requestByNodes: false, coresPerBlock: 8, coresPerNode: 4, nodesPerBlock: 3 },
        /options\.nodesPerBlock: not used with requestByNodes: false .*ceil\(coresPerBlock \/ coresPerNode\).*got 3/,
      ],
      [{ coresPerBlock: 8 }, /options\.coresPerBlock: only used with requestByNodes: false/],
      [{ requestByNodes: "yes" as unknown as boolean }, /options\.requestByNodes: expected true or false, got "yes"/],
      [{ bsubRedirection: 1 as unknown as boolean }, /options\.bsubRedirection: expected true or false, got 1/],
      [{ queue: "two words" }, /options\.queue: expected a non-empty name without spaces, got "two words"/],
      [{ project: "" }, /options\.project: expected a non-empty name without spaces/],
      [
        { memPerNode: 4000 } as LSFProviderOptions,
        /options\.memPerNode: not taken .*rusage\[mem=4000\].*schedulerOptions/,
      ],
      [{ walltime: "1h" }, /options\.walltime: expected "HH:MM:SS"/],
      [
        { accout: "x" } as LSFProviderOptions,
        /options\.accout: unknown option; allowed: .*project, queue, requestByNodes/,
      ],
    ];
    for (const [o, said] of bad) {
      it(`rejects ${JSON.stringify(o)}`, () => {
        let e: unknown;
        try {
          new LSFProvider(o);
        } catch (err) {
          e = err;
        }
        expect(e).to.be.instanceOf(ConfigError);
        expect((e as Error).message)
          .to.match(/^LSFProvider /)
          .and.to.match(said);
      });
    }
  });
});

// A stand-in for LSF's three commands: bsub reads the job script from stdin (as `bsub < script` does), starts it
// with bash in the background in its own process group and answers like LSF; bjobs and bkill answer for it.
function miniLSF(dir: string): { bin: string; state: string } {
  const bin = path.join(dir, "bin");
  const state = path.join(dir, "lsf");
  fs.mkdirSync(bin, { recursive: true });
  fs.mkdirSync(state, { recursive: true });
  const alive = `alive() { s=$(sed 's/.*) \\(.\\).*/\\1/' /proc/$1/stat 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]; }`;
  const scripts: Record<string, string> = {
    bsub: `n=$(( $(cat "$d/next" 2>/dev/null || echo 2000) + 1 )); echo $n > "$d/next"
cat > "$d/$n.sh"
out=$(sed -n 's/^#BSUB -o //p' "$d/$n.sh"); err=$(sed -n 's/^#BSUB -e //p' "$d/$n.sh")
LSB_JOBID=$n setsid bash "$d/$n.sh" > "$out" 2> "$err" < /dev/null &
echo $! > "$d/$n.pid"
echo "Job <$n> is submitted to queue <normal>."`,
    bjobs: `${alive}
rc=0
for id in "$@"; do
  case "$id" in ''|*[!0-9]*) continue ;; esac
  if [ ! -e "$d/$id.pid" ]; then echo "Job <$id> is not found" >&2; rc=255
  elif alive "$(cat "$d/$id.pid")"; then echo "$id|RUN|-|-"
  else echo "$id|DONE|-|-"; fi
done
exit $rc`,
    bkill: `for id in "$@"; do kill -TERM -- -"$(cat "$d/$id.pid")" 2>/dev/null; echo "Job <$id> is being terminated"; done`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/bash\nd=${JSON.stringify(state)}\n${body}\n`, { mode: 0o755 });
  }
  return { bin, state };
}

describe("a workflow on workers started through LSFProvider (stand-in LSF)", function () {
  this.timeout(120_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  let oldPath: string | undefined;
  const lsf = miniLSF(tmp.dir);
  before(() => {
    oldPath = process.env.PATH;
    process.env.PATH = `${lsf.bin}:${oldPath ?? ""}`;
  });
  after(async () => {
    await k?.cleanup();
    process.env.PATH = oldPath;
    tmp.remove();
  });

  it("runs tasks in the job bsub started from the piped script, and bkills it at cleanup", async () => {
    const runDir = path.join(tmp.dir, "flow");
    k = await load({
      executors: [
        new HighThroughputExecutor({
          maxWorkersPerNode: 2,
          provider: new LSFProvider({ statusPollingInterval: 1, walltime: "00:05:00" }),
        }),
      ],
      runDir,
      initializeLogging: false,
    });
    const seen = await Promise.all(Array.from({ length: 6 }, () => lsfJob()));
    expect(new Set(seen.map((s) => s.job))).to.deep.equal(new Set(["2001"]));
    const jobName = seen[0]!.jobName!;
    // What bsub read on stdin is the script the provider wrote.
    const written = fs.readdirSync(runDir, { recursive: true }).find((f) => String(f).endsWith(`${jobName}.sh`));
    expect(written, "the provider's script").to.not.equal(undefined);
    expect(fs.readFileSync(path.join(lsf.state, "2001.sh"), "utf8")).to.equal(
      fs.readFileSync(path.join(runDir, String(written)), "utf8"),
    );
    const pid = Number(fs.readFileSync(path.join(lsf.state, "2001.pid"), "utf8"));
    expect(processGone(pid)).to.equal(false);
    await k.cleanup();
    k = undefined;
    expect(await until(() => processGone(pid), 20_000)).to.equal(true);
  });
});
