import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn, type SpawnOptions } from "node:child_process";
import { load, ConfigError, ThreadPoolExecutor } from "taskloom";
import { processGone, rejection, tmpDir, until } from "../helpers/tmp.js";
import { double } from "../fixtures/apps.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Runs a command to its end; resolves with its exit code, signal and output. */
function run(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { onStdout?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], ...opts });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      opts.onStdout?.(out, child);
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out, err }));
  });
}

describe("lifecycle", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  after(() => tmp.remove());

  it("makes a numbered run directory per load, with a log file", async () => {
    const base = path.join(tmp.dir, "runs");
    const k1 = await load({ runDir: base });
    expect(path.basename(k1.runDir)).to.equal("000");
    await double(1);
    await k1.cleanup();
    const k2 = await load({ runDir: base, initializeLogging: { level: "debug" } });
    expect(path.basename(k2.runDir)).to.equal("001");
    await double(2);
    await k2.cleanup();
    const log1 = fs.readFileSync(path.join(k1.runDir, "taskloom.log"), "utf8");
    expect(log1).to.contain("taskloom starting");
    expect(log1).to.contain("Summary of tasks in DFK");
    expect(log1).not.to.contain("task done");
    const lines = fs.readFileSync(path.join(k2.runDir, "taskloom.log"), "utf8").trim().split("\n");
    const recs = lines.map((l) => JSON.parse(l) as { msg: string; level: string; state?: string });
    expect(recs.some((r) => r.msg === "task done" && r.state === "exec_done" && r.level === "debug")).to.equal(true);
  });

  it("writes no log file with initializeLogging: false", async () => {
    const k = await load({ runDir: path.join(tmp.dir, "quiet"), initializeLogging: false });
    await k.cleanup();
    expect(fs.existsSync(path.join(k.runDir, "taskloom.log"))).to.equal(false);
  });

  it("validates config up front, naming the field, the value and what is allowed", async () => {
    const e = (await rejection(load({ retries: -1 }).then((k) => k.cleanup()))) as ConfigError;
    expect(e).to.be.instanceOf(ConfigError);
    expect(e.message).to.contain("retries");
    expect(e.message).to.contain("-1");
    const e2 = (await rejection(
      load({ checkpoint_mode: "task_exit" } as never).then((k) => k.cleanup()),
    )) as ConfigError;
    expect(e2.message).to.contain("checkpointMode");
    expect(() => new ThreadPoolExecutor({ maxThreads: 0 })).to.throw(ConfigError, /maxThreads.*>= 1.*0/);
    expect(() => new ThreadPoolExecutor({ max_threads: 4 } as never)).to.throw(
      ConfigError,
      /did you mean "maxThreads"/,
    );
  });

  it("loads again after cleanup; cleanup twice is harmless", async () => {
    const k = await load({ runDir: path.join(tmp.dir, "again"), initializeLogging: false });
    await k.cleanup();
    await k.cleanup();
    const k2 = await load({ runDir: path.join(tmp.dir, "again"), initializeLogging: false });
    expect(await double(21)).to.equal(42);
    await k2.cleanup();
  });

  it("runs the quick start example on the embedded default", async () => {
    const r = await run(process.execPath, ["--import", "tsx", "examples/quickstart.ts"], {
      cwd: ROOT,
      env: { ...process.env },
    });
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain("1 + (2 + 3) = 6");
    expect(r.out).to.contain("sum: 385");
    expect(r.out).to.contain('"hello\\nworld\\n"');
    fs.rmSync(path.join(ROOT, "runinfo"), { recursive: true, force: true });
  });

  it("`taskloom run` runs a TypeScript workflow", async () => {
    const r = await run(process.execPath, ["dist/lib/cli/main.js", "run", "examples/quickstart.ts"]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain("1 + (2 + 3) = 6");
    fs.rmSync(path.join(ROOT, "runinfo"), { recursive: true, force: true });
    const bad = await run(process.execPath, ["dist/lib/cli/main.js", "frobnicate"]);
    expect(bad.code).to.equal(2);
    expect(bad.err).to.contain('unknown command "frobnicate"');
  });

  it("`taskloom worker-pool` refuses bad options with what is allowed, before connecting anywhere", async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [[], {}, /--url is required/],
      [["--url", "localhost:5"], {}, /--url: expected tcp:\/\/HOST:PORT, got "localhost:5"/],
      [["--url", "tcp://127.0.0.1:1", "--prefetch", "lots"], {}, /--prefetch: expected an integer >= 0, got "lots"/],
      [["--url", "tcp://127.0.0.1:1", "--max-workers", "0"], {}, /--max-workers: expected an integer >= 1, got "0"/],
      [
        ["--url", "tcp://127.0.0.1:1"],
        { TASKLOOM_CORES: "many" },
        /TASKLOOM_CORES: expected a number >= 0.001, got "many"/,
      ],
      [["--url", "tcp://127.0.0.1:1", "--cert-dir", "/nonexistent"], {}, /cannot read the CurveZMQ key \/nonexistent/],
    ];
    for (const [args, env, msg] of cases) {
      const r = await run(process.execPath, ["dist/lib/cli/main.js", "worker-pool", ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
      });
      expect(r.code, r.err).to.equal(2);
      expect(r.err).to.match(msg);
      expect(r.err).to.contain("usage: taskloom worker-pool");
    }
  });

  it("a project that installs taskloom runs a TypeScript workflow with `npx taskloom run`", async () => {
    const proj = path.join(tmp.dir, "user-project");
    fs.mkdirSync(proj);
    fs.writeFileSync(
      path.join(proj, "package.json"),
      JSON.stringify({ name: "user-project", private: true, type: "module" }),
    );
    const inst = await run("npm", ["install", "--offline", "--no-audit", "--no-fund", ROOT], { cwd: proj });
    expect(inst.code, inst.err).to.equal(0);
    fs.writeFileSync(
      path.join(proj, "flow.ts"),
      [
        'import { app, load, isWorker } from "taskloom";',
        "export const sq = app((x: number): number => x * x);",
        "if (!isWorker()) {",
        "  const dfk = await load();",
        '  console.log("squares", (await Promise.all([1, 2, 3].map((x) => sq(x)))).join(","));',
        "  await dfk.cleanup();",
        "}",
      ].join("\n"),
    );
    const r = await run("npx", ["taskloom", "run", "flow.ts"], { cwd: proj });
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.contain("squares 1,4,9");
  });

  it("an app in an unguarded entry script runs, and the workflow runs once", async () => {
    const r = await run(process.execPath, [
      "--import",
      "tsx",
      "test/fixtures/entry-unguarded.ts",
      path.join(tmp.dir, "entry"),
    ]);
    expect(r.code, r.err).to.equal(0);
    expect(r.out.match(/^result 42$/gm)).to.have.length(1);
  });

  it("cleanup cancels what is left, kills running commands, and the process exits by itself", async () => {
    const pidFile = path.join(tmp.dir, "left.pid");
    const t0 = Date.now();
    const r = await run(process.execPath, [
      "--import",
      "tsx",
      "test/fixtures/leftover-workflow.ts",
      path.join(tmp.dir, "left"),
      pidFile,
    ]);
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out.trim())).to.deep.equal({ running: "cancelled", waiting: "cancelled" });
    expect(Date.now() - t0).to.be.lessThan(30_000);
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    expect(await until(() => processGone(pid), 3000), "shell task survived cleanup").to.equal(true);
  });

  it("Ctrl-C (SIGINT) cleans up, kills running commands and exits non-zero", async () => {
    const pidFile = path.join(tmp.dir, "sigint.pid");
    const r = await run(
      process.execPath,
      ["--import", "tsx", "test/fixtures/sigint-workflow.ts", path.join(tmp.dir, "sigint"), pidFile],
      {
        onStdout: (out, child) => {
          if (out.includes("ready")) child.kill("SIGINT");
        },
      },
    );
    expect(r.code).to.equal(130);
    expect(r.out).not.to.contain("not reached");
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    expect(await until(() => processGone(pid), 3000), "shell task survived SIGINT").to.equal(true);
  });
});
