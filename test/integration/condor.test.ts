// CondorProvider against fake HTCondor commands. HTCondor cannot be installed here, so condor_submit, condor_q,
// condor_history and condor_rm are fakes on PATH that replay recorded output of the real commands
// (test/fixtures/condor, sources in its README.md). The workflow at the end uses fakes that really start each
// proc's job script in the background, so its tasks run on workers started through the HTCondor path.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  CondorProvider,
  ConfigError,
  HighThroughputExecutor,
  ProviderError,
  type CondorProviderOptions,
  type DataFlowKernel,
} from "taskloom";
import { nullLogger } from "../../lib/logging.js";
import { FakeCommands, fixture } from "../helpers/fake-commands.js";
import { processGone, rejection, tmpDir } from "../helpers/tmp.js";
import { condorProc } from "../fixtures/condor/apps.js";

const submitted = (cluster: number): { stdout: string } => ({
  stdout: fixture("condor", "condor_submit-1.txt").replace("cluster 6.", `cluster ${cluster}.`),
});

describe("CondorProvider (fake HTCondor replaying recorded output)", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let fake: FakeCommands;
  let n = 0;
  let runDir = "";
  before(() => {
    fake = new FakeCommands(tmp.dir, ["condor_submit", "condor_q", "condor_history", "condor_rm"]).install();
  });
  after(() => {
    fake.uninstall();
    tmp.remove();
  });
  const provider = async (o: CondorProviderOptions = {}): Promise<CondorProvider> => {
    const p = new CondorProvider(o);
    runDir = path.join(tmp.dir, `run${n++}`);
    await p.start({ runDir, logger: nullLogger });
    return p;
  };
  const scripts = (f: string): string => path.join(runDir, "submit_scripts", f);
  const callsSince = (name: string, before: number): string[][] =>
    fake
      .calls(name)
      .slice(before)
      .map((c) => c.argv);

  it("renders a submit file of one cluster of nodesPerBlock procs with every option, and parses the cluster id", async () => {
    const p = await provider({
      nodesPerBlock: 5,
      coresPerSlot: 4,
      memPerSlot: 2048,
      walltime: "01:30:00",
      requirements: 'OpSys == "LINUX" && Arch == "X86_64"',
      rank: "Memory",
      project: "physics",
      transferInputFiles: ["env.tar.gz", "data/"],
      environment: { GREETING: 'it\'s "quoted" here', OMP_NUM_THREADS: "4" },
      schedulerOptions: "+WantGPU = false\naccounting_group = group_physics",
      workerInit: "module load nodejs",
    });
    const before = fake.calls("condor_submit").length;
    fake.respond("condor_submit", { stdout: fixture("condor", "condor_submit-5.txt") });
    expect(await p.submit("taskloom worker-pool --block 0", 1, "block-0")).to.equal("118907");
    expect(callsSince("condor_submit", before)).to.deep.equal([["condor_submit", scripts("block-0.submit")]]);

    const sub = fs.readFileSync(scripts("block-0.submit"), "utf8");
    const want = {
      universe: "vanilla",
      executable: scripts("block-0.sh"),
      arguments: "$(Process)",
      initialdir: scripts(""),
      output: scripts("block-0.$(Process).out"),
      error: scripts("block-0.$(Process).err"),
      log: scripts("block-0.log"),
      should_transfer_files: "YES",
      when_to_transfer_output: "ON_EXIT_OR_EVICT",
      transfer_input_files: "env.tar.gz,data/",
      request_cpus: "4",
      request_memory: "2048",
      requirements: 'OpSys == "LINUX" && Arch == "X86_64"',
      rank: "Memory",
      "+ProjectName": '"physics"',
      environment: `"GREETING='it''s ""quoted"" here' OMP_NUM_THREADS='4'"`,
      periodic_hold: "(JobStatus == 2) && (time() - EnteredCurrentStatus > 5400)",
      periodic_hold_reason: '"walltime 01:30:00 exceeded"',
    };
    for (const [k, v] of Object.entries(want))
      expect(sub, k).to.match(new RegExp(`^${k.replace("+", "\\+")} += ${esc(v)}$`, "m"));
    expect(sub).to.contain("+WantGPU = false\naccounting_group = group_physics\nqueue 5\n");
    expect(sub.trimEnd().split("\n").at(-1)).to.equal("queue 5");

    const job = fs.readFileSync(scripts("block-0.sh"), "utf8");
    expect(job).to.match(/^#!\/bin\/bash\n/);
    expect(job).to.contain("export TASKLOOM_CORES=4\nexport TASKLOOM_MEMORY_MB=2048\nexport JOBNAME=block-0\n");
    expect(job).to.contain("module load nodejs\n");
    // One proc is one node: the launcher starts the command once per proc, not nodesPerBlock times.
    expect(job.match(/taskloom worker-pool --block 0/g)).to.have.length(1);
    expect(job).to.contain("COPIES=1\n");
    expect(job).to.contain("echo $TASKLOOM_RC > block-0.$TASKLOOM_PROC.ec\n");
    expect(p.coresPerNode).to.equal(4);
    expect(p.memPerNode).to.equal(2048);
  });

  it("leaves out what was not asked for, and reads the id of a single-proc cluster", async () => {
    const p = await provider();
    fake.respond("condor_submit", { stdout: fixture("condor", "condor_submit-1.txt") });
    expect(await p.submit("true", 1, "block-1")).to.equal("6");
    const sub = fs.readFileSync(scripts("block-1.submit"), "utf8");
    for (const k of ["transfer_input_files", "request_cpus", "request_memory", "requirements", "rank", "environment"]) {
      expect(sub).not.to.match(new RegExp(`^${k} `, "m"));
    }
    expect(sub).to.contain("> 600)\n");
    expect(sub.trimEnd().split("\n").at(-1)).to.equal("queue 1");
  });

  it("maps every HTCondor JobStatus of many blocks from one condor_q call", async () => {
    const p = await provider();
    fake.respond("condor_submit", ...[104091, 104092, 104093, 104094, 104095, 104096, 104097].map(submitted));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await p.submit("true", 1, `block-${i}`));
    expect(ids).to.deep.equal(["104091", "104092", "104093", "104094", "104095", "104096", "104097"]);
    const q = fake.calls("condor_q").length;
    const h = fake.calls("condor_history").length;
    fake.respond("condor_q", { stdout: fixture("condor", "condor_q-states.txt") });
    const st = await p.status(ids);
    expect(callsSince("condor_q", q)).to.deep.equal([
      ["condor_q", ...ids, "-af:j", "JobStatus", "ExitCode", "HoldReason"],
    ]);
    expect(callsSince("condor_history", h)).to.deep.equal([]);
    expect(st.map((s) => s.state)).to.deep.equal([
      "pending", // 1 Idle
      "running", // 2 Running
      "cancelled", // 3 Removed
      "completed", // 4 Completed
      "failed", // 5 Held
      "running", // 6 Transferring Output
      "pending", // 7 Suspended
    ]);
    expect(st[3]!.exitCode).to.equal(0);
    expect(st[4]!.message).to.match(
      /^proc 104095\.0 held: Error from slot1@ep: Job has gone over cgroup memory limit of 20096 megabytes; stderr:/,
    );
    expect(st[4]!.stderrPath).to.equal(scripts("block-4.0.err"));
    expect((await p.status(["nope"]))[0]!.state).to.equal("unknown");
  });

  it("aggregates the procs of a block: running, then failed with a held proc's reason", async () => {
    const p = await provider({ nodesPerBlock: 5 });
    fake.respond("condor_submit", { stdout: fixture("condor", "condor_submit-5.txt") });
    const id = await p.submit("true", 1, "block-0");
    fake.respond("condor_q", { stdout: fixture("condor", "condor_q-array.txt") });
    expect((await p.status([id]))[0]!.state).to.equal("running");
    fake.respond("condor_q", { stdout: fixture("condor", "condor_q-array-held.txt") });
    fs.writeFileSync(scripts("block-0.2.err"), "worker pool: loading env\n");
    const [s] = await p.status([id]);
    expect(s!.state).to.equal("failed");
    expect(s!.message).to.equal(
      "proc 118907.2 held: Error from slot1_3@e327.chtc.wisc.edu: Docker job has gone over memory limit of 16384 Mb; " +
        "stderr: worker pool: loading env",
    );
    // Ended blocks are not polled again.
    const q = fake.calls("condor_q").length;
    expect((await p.status([id]))[0]!.state).to.equal("failed");
    expect(fake.calls("condor_q").length).to.equal(q);
  });

  it("asks condor_history once for procs that left the queue, and fails the block on a proc's exit code", async () => {
    const p = await provider({ nodesPerBlock: 5 });
    fake.respond("condor_submit", { stdout: fixture("condor", "condor_submit-5.txt") });
    const id = await p.submit("true", 1, "block-0");
    fs.writeFileSync(scripts("block-0.1.err"), "Error: cannot find module 'taskloom'\n");
    const h = fake.calls("condor_history").length;
    fake.respond("condor_q", { stdout: "" });
    fake.respond("condor_history", { stdout: fixture("condor", "condor_history-array.txt") });
    const [s] = await p.status([id]);
    expect(callsSince("condor_history", h)).to.deep.equal([
      ["condor_history", id, "-limit", "5", "-af:j", "JobStatus", "ExitCode", "HoldReason"],
    ]);
    expect(s).to.deep.include({ state: "failed", exitCode: 3 });
    expect(s!.message).to.equal("proc 118907.1 exit code 3; stderr: Error: cannot find module 'taskloom'");
  });

  it("a block whose procs all completed is completed; a gone proc's .ec file stands in for a history record", async () => {
    const p = await provider();
    fake.respond("condor_submit", submitted(6), submitted(7), submitted(8));
    const [done, ec, lost] = [
      await p.submit("true", 1, "a"),
      await p.submit("true", 1, "b"),
      await p.submit("true", 1, "c"),
    ];
    fake.respond("condor_q", { stdout: "" });
    fake.respond("condor_history", { stdout: fixture("condor", "condor_history-done.txt") });
    fs.writeFileSync(scripts("b.0.ec"), "2\n");
    const [s6, s7, s8] = await p.status([done, ec, lost]);
    expect(s6).to.deep.include({ state: "completed", exitCode: 0 });
    expect(s7).to.deep.include({ state: "failed", exitCode: 2 });
    // No record anywhere yet (history can lag the queue): the last state stands for a while.
    expect(s8!.state).to.equal("pending");
  });

  it("cancels live blocks with one condor_rm of their ids", async () => {
    const p = await provider();
    fake.respond("condor_submit", submitted(201), submitted(202));
    const ids = [await p.submit("true", 1, "a"), await p.submit("true", 1, "b")];
    const rm = fake.calls("condor_rm").length;
    fake.respond("condor_rm", { stdout: "All jobs in cluster 201 have been marked for removal\n" });
    expect(await p.cancel([...ids, "999"])).to.deep.equal([true, true, false]);
    expect(callsSince("condor_rm", rm)).to.deep.equal([["condor_rm", "201", "202"]]);
    expect((await p.status(ids)).map((s) => s.state)).to.deep.equal(["cancelled", "cancelled"]);
    expect(await p.cancel(ids)).to.deep.equal([false, false]);
    expect(fake.calls("condor_rm").length).to.equal(rm + 1);
  });

  for (const [what, file] of [
    ["a parse error in the submit file", "condor_submit-parse-error.txt"],
    ["no schedd", "condor_submit-no-schedd.txt"],
  ] as const) {
    it(`condor_submit failing with ${what} is a ProviderError with the command, exit code and stderr`, async () => {
      const p = await provider();
      fake.respond("condor_submit", { stderr: fixture("condor", file), code: 1 });
      const e = await rejection(p.submit("true", 1, "block-0"));
      expect(e).to.be.instanceOf(ProviderError);
      const msg = (e as Error).message;
      expect(msg).to.contain(`\`condor_submit ${scripts("block-0.submit")}\` failed with exit code 1: `);
      expect(msg).to.contain(fixture("condor", file).trim().split("\n")[0]!);
    });
  }

  it("condor_submit output without a cluster id is a ProviderError", async () => {
    const p = await provider();
    fake.respond("condor_submit", { stdout: "Submitting job(s).\n" });
    expect(String(await rejection(p.submit("true", 1, "block-0")))).to.match(
      /printed no job id: "Submitting job\(s\)\."/,
    );
  });

  it("a hung condor_q is a ProviderError naming it after cmdTimeout", async () => {
    const p = await provider({ cmdTimeout: 1 });
    fake.respond("condor_submit", submitted(301));
    const id = await p.submit("true", 1, "block-0");
    fake.respond("condor_q", { hang: 30 });
    const t = Date.now();
    const e = await rejection(p.status([id]));
    expect(Date.now() - t).to.be.lessThan(10_000);
    expect(e).to.be.instanceOf(ProviderError);
    expect((e as Error).message).to.match(
      /`condor_q 301 -af:j JobStatus ExitCode HoldReason` did not finish within 1 s/,
    );
    fake.respond("condor_q", { stdout: "" });
  });

  it("rejects bad options with a ConfigError naming the option", () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ coresPerSlot: 0 }, /options\.coresPerSlot: expected an integer >= 1, got 0/],
      [{ memPerSlot: -1 }, /options\.memPerSlot: expected a number of MB > 0, got -1/],
      [{ environment: { "BAD-NAME": "x" } }, /options\.environment: .*BAD-NAME/],
      [{ environment: { A: 1 } }, /options\.environment: .*\{"A":1\}/],
      [{ environment: "A=1" }, /options\.environment: expected an object/],
      [{ requirements: "" }, /options\.requirements: expected a non-empty one-line string, got ""/],
      [{ rank: "Memory\nqueue 100" }, /options\.rank: expected a non-empty one-line string/],
      [{ project: 7 }, /options\.project: .* got 7/],
      [{ transferInputFiles: "env.tar.gz" }, /options\.transferInputFiles: expected an array of paths/],
      [{ transferInputFiles: ["a,b"] }, /options\.transferInputFiles: .*\["a,b"\]/],
      [{ coresPerNode: 4 }, /options\.coresPerNode: unknown option; allowed: .*coresPerSlot/],
      [{ walltime: "90 minutes" }, /options\.walltime: expected "HH:MM:SS"/],
      [{ cmdTimeout: 0 }, /options\.cmdTimeout: expected a number > 0/],
    ];
    for (const [o, re] of bad) {
      let err: unknown;
      try {
        new CondorProvider(o);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(o)).to.be.instanceOf(ConfigError);
      expect((err as Error).message, JSON.stringify(o))
        .to.match(/^CondorProvider /)
        .and.to.match(re);
    }
    expect(new CondorProvider().cmdTimeout).to.equal(60);
  });

  describe("a workflow on workers started through HTCondor's submit path", () => {
    let k: DataFlowKernel | undefined;
    const state = path.join(tmp.dir, "condor-state");
    const bin = path.join(tmp.dir, "live-bin");
    let oldPath: string | undefined;
    const pids = (): number[] =>
      fs
        .readdirSync(state)
        .filter((f) => f.endsWith(".pid"))
        .map((f) => Number(fs.readFileSync(path.join(state, f), "utf8")));

    before(() => {
      fs.mkdirSync(state, { recursive: true });
      fs.mkdirSync(bin, { recursive: true });
      for (const [name, body] of Object.entries(LIVE_FAKES)) {
        fs.writeFileSync(path.join(bin, name), `#!/bin/bash\nstate=${JSON.stringify(state)}\n${body}`, { mode: 0o755 });
      }
      oldPath = process.env.PATH;
      process.env.PATH = `${bin}:${oldPath ?? ""}`;
    });
    after(async () => {
      await k?.cleanup();
      process.env.PATH = oldPath;
      for (const pid of pids()) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    });

    it("runs tasks on workers that each proc's job script started", async () => {
      const flow = path.join(tmp.dir, "flow");
      k = await load({
        executors: [
          new HighThroughputExecutor({
            maxWorkersPerNode: 1,
            provider: new CondorProvider({ nodesPerBlock: 2, statusPollingInterval: 1, environment: { A: "b" } }),
          }),
        ],
        runDir: flow,
        initializeLogging: false,
      });
      const seen = await Promise.all(Array.from({ length: 6 }, () => condorProc()));
      expect(new Set(seen.map((s) => s.job))).to.deep.equal(new Set(["block-0"]));
      for (const s of seen) expect(["0", "1"]).to.include(s.proc);
      const files = fs
        .readdirSync(flow, { recursive: true, encoding: "utf8" })
        .map((f) => f.split(path.sep).slice(-2).join("/"));
      for (const f of ["block-0.submit", "block-0.sh", "block-0.0.out", "block-0.1.err"]) {
        expect(files).to.include(`submit_scripts/${f}`);
      }
      expect(pids()).to.have.length(2);
      await k.cleanup();
      k = undefined;
      // cleanup cancelled the block: condor_rm ended both procs' process groups.
      expect(pids().every((pid) => processGone(pid))).to.equal(true);
    });
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Fakes that act like a one-machine pool: condor_submit starts each proc of the submit file with bash in the
// background (in its own process group, as a starter would), condor_q lists the procs still alive as running,
// condor_history gives the finished ones' exit codes, and condor_rm kills the clusters' process groups.
const LIVE_FAKES: Record<string, string> = {
  condor_submit: String.raw`f="$1"
get() { sed -n "s/^$1 *= *//p" "$f" | head -1; }
proc() { printf '%s' "$1" | sed 's/[$](Process)/'"$2"'/'; }
exe=$(get executable); dir=$(get initialdir); out=$(get output); err=$(get error)
n=$(sed -n 's/^queue *//p' "$f"); [ -n "$n" ] || n=1
c=$(( $(cat "$state/next" 2>/dev/null || echo 500) + 1 )); echo $c > "$state/next"
for p in $(seq 0 $((n - 1))); do
  echo "$dir/$(basename "$exe" .sh).$p.ec" > "$state/$c.$p.ec"
  o=$(proc "$out" $p); e=$(proc "$err" $p)
  (cd "$dir" && exec setsid nohup bash "$exe" $p > "$o" 2> "$e" < /dev/null) &
  echo $! > "$state/$c.$p.pid"
done
echo "Submitting job(s)."
echo "$n job(s) submitted to cluster $c."
`,
  condor_q: String.raw`alive() { local s; s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]; }
for a in "$@"; do
  [ "$a" = "-af:j" ] && break
  for f in "$state/$a".*.pid; do
    [ -e "$f" ] && alive "$(cat "$f")" && echo "$(basename "$f" .pid) 2 undefined undefined"
  done
done
exit 0
`,
  condor_history: String.raw`for a in "$@"; do
  [ "$a" = "-limit" ] && break
  for f in "$state/$a".*.ec; do
    [ -e "$f" ] || continue
    ec=$(cat "$(cat "$f")" 2>/dev/null); [ -n "$ec" ] || ec=undefined
    echo "$(basename "$f" .ec) 4 $ec undefined"
  done
done
exit 0
`,
  condor_rm: String.raw`for c in "$@"; do
  for f in "$state/$c".*.pid; do [ -e "$f" ] && kill -TERM -- "-$(cat "$f")" 2>/dev/null; done
  echo "All jobs in cluster $c have been marked for removal"
done
`,
};
