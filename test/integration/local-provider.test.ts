// LocalProvider and the launchers, run for real with bash: scripts, copies, exit codes, status and cancel.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  ConfigError,
  LocalProvider,
  SimpleLauncher,
  SingleNodeLauncher,
  WrappedLauncher,
  type JobStatus,
  type Launcher,
} from "taskloom";
import { nullLogger } from "../../lib/logging.js";
import { processGone, tmpDir, until } from "../helpers/tmp.js";

const bash = (script: string): { code: number | null; out: string } => {
  const r = spawnSync("/bin/bash", ["-c", script], { encoding: "utf8" });
  return { code: r.status, out: r.stdout };
};

describe("launchers", () => {
  const tmp = tmpDir();
  after(() => tmp.remove());

  it("SingleNodeLauncher starts tasksPerNode × nodesPerBlock copies and waits for them all", () => {
    const f = path.join(tmp.dir, "copies");
    const r = bash(new SingleNodeLauncher().wrap(`sh -c 'sleep 0.05; echo $$ >> ${f}'`, 3, 2));
    expect(r.code).to.equal(0);
    expect(new Set(fs.readFileSync(f, "utf8").trim().split("\n")).size).to.equal(6);
  });

  it("SingleNodeLauncher fails when every copy fails, or with failOnAny when any does", () => {
    expect(bash(new SingleNodeLauncher().wrap("false", 2, 1)).code).to.equal(1);
    expect(bash(new SingleNodeLauncher().wrap("true", 2, 1)).code).to.equal(0);
    const marker = path.join(tmp.dir, "first");
    const oneFails = `sh -c 'if mkdir ${marker} 2>/dev/null; then exit 3; fi'`;
    expect(bash(new SingleNodeLauncher().wrap(oneFails, 3, 1)).code).to.equal(0);
    fs.rmdirSync(marker);
    expect(bash(new SingleNodeLauncher({ failOnAny: true }).wrap(oneFails, 3, 1)).code).to.equal(1);
  });

  it("SimpleLauncher runs the command once as is; WrappedLauncher puts its prefix first", () => {
    const simple: Launcher = new SimpleLauncher();
    const wrapped: Launcher = new WrappedLauncher({ prepend: "env GREETING=hi" });
    expect(bash(simple.wrap("echo once", 4, 2)).out).to.equal("once\n");
    expect(bash(wrapped.wrap("printenv GREETING", 1, 1)).out).to.equal("hi\n");
  });

  it("rejects bad launcher options with a clear error", () => {
    expect(() => new WrappedLauncher({} as { prepend: string })).to.throw(
      ConfigError,
      /expected \{ prepend: string \}/,
    );
    expect(() => new SingleNodeLauncher({ failOnAny: "yes" as unknown as boolean })).to.throw(
      ConfigError,
      /expected \{ failOnAny\?: boolean \}/,
    );
  });
});

describe("LocalProvider", () => {
  const tmp = tmpDir();
  after(() => tmp.remove());
  const started = async (opts: ConstructorParameters<typeof LocalProvider>[0] = {}): Promise<LocalProvider> => {
    const p = new LocalProvider(opts);
    await p.start({ runDir: fs.mkdtempSync(path.join(tmp.dir, "run-")), logger: nullLogger });
    return p;
  };
  const settled = async (p: LocalProvider, id: string): Promise<JobStatus> => {
    let st: JobStatus = { state: "unknown" };
    for (let i = 0; i < 500; i++) {
      st = (await p.status([id]))[0]!;
      if (st.state !== "running" && st.state !== "pending") return st;
      await new Promise((r) => setTimeout(r, 10));
    }
    return st;
  };

  it("writes the job script with workerInit first and reports completed with the exit code", async () => {
    const p = await started({ workerInit: "export FROM_INIT=yes", launcher: new SimpleLauncher() });
    const id = await p.submit('echo "$FROM_INIT $JOBNAME"', 1, "block-7");
    const st = await settled(p, id);
    expect(st).to.deep.include({ state: "completed", exitCode: 0 });
    expect(fs.readFileSync(st.stdoutPath!, "utf8")).to.equal("yes block-7\n");
    const script = fs.readFileSync(st.stdoutPath!.replace(/\.out$/, ".sh"), "utf8");
    expect(script.indexOf("export FROM_INIT=yes")).to.be.below(script.indexOf('echo "$FROM_INIT'));
  });

  it("reports a failed job with its exit code and the tail of its stderr", async () => {
    const p = await started({ launcher: new SimpleLauncher() });
    const id = await p.submit("echo 'worker-pool: cannot connect' >&2; exit 4", 1, "block-0");
    const st = await settled(p, id);
    expect(st.state).to.equal("failed");
    expect(st.exitCode).to.equal(4);
    expect(st.message).to.match(/exit code 4; stderr: worker-pool: cannot connect/);
  });

  it("cancel stops the whole process group of a running job; unknown ids are unknown", async () => {
    const p = await started({ launcher: new SimpleLauncher() });
    const pidFile = path.join(tmp.dir, "bg.pid");
    const id = await p.submit(`sleep 60 & echo $! > ${pidFile}; wait`, 1, "block-1");
    expect(await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8") !== "")).to.equal(true);
    const bg = Number(fs.readFileSync(pidFile, "utf8"));
    expect((await p.status([id]))[0]!.state).to.equal("running");
    expect(await p.cancel([id, "nope"])).to.deep.equal([true, false]);
    expect((await p.status([id]))[0]!.state).to.equal("cancelled");
    expect(await until(() => processGone(bg) && processGone(Number(id)), 5000)).to.equal(true);
    expect((await p.status(["12345678"]))[0]!.state).to.equal("unknown");
  });

  it("rejects bad options naming the option and what is allowed", () => {
    expect(() => new LocalProvider({ maxBlocks: -1 })).to.throw(
      ConfigError,
      /maxBlocks: expected an integer >= 0, got -1/,
    );
    expect(() => new LocalProvider({ minBlocks: 3, maxBlocks: 2 })).to.throw(
      ConfigError,
      /minBlocks \(3\) must not exceed maxBlocks \(2\)/,
    );
    expect(() => new LocalProvider({ parallelism: 2 })).to.throw(
      ConfigError,
      /parallelism: expected a number from 0 to 1/,
    );
    expect(() => new LocalProvider({ nodes: 2 } as object)).to.throw(
      ConfigError,
      /options.nodes: unknown option; allowed: initBlocks/,
    );
  });
});
