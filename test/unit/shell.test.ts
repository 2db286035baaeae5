import { expect } from "chai";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { processGone, tmpDir, until } from "../helpers/tmp.js";
import { AppTimeoutError, ConfigError, MissingOutputsError, ShellExitError } from "../../lib/errors.js";
import type { ShellSpec } from "../../executors/executor.js";
import { killProcessGroup, runShell } from "../../executors/runtime/shell.js";

function spec(parts: Partial<ShellSpec> = {}): ShellSpec {
  return { stdout: undefined, stderr: undefined, outputs: [], ...parts };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

async function exitCodeOf(command: string): Promise<number> {
  const e = await rejection(runShell("t", command, spec(), undefined));
  expect(e).to.be.instanceOf(ShellExitError);
  return (e as ShellExitError).exitCode;
}

// A process orphaned by the kill is reparented to pid 1, and some container
// inits never reap, so a zombie counts as gone: it no longer runs.
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw e;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe("runShell", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "taskloom-shell-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe("exit codes", () => {
    it("resolves 0 on success", async () => {
      expect(await runShell("t", "true", spec(), undefined)).to.equal(0);
    });
    it("reports 1 for a division by zero", async () => {
      expect(await exitCodeOf("{ echo $((5/0)); } 2>/dev/null")).to.equal(1);
    });
    it("reports 15 for exit 15", async () => {
      expect(await exitCodeOf("exit 15")).to.equal(15);
    });
    it("reports 127 for a command that does not exist", async () => {
      expect(await exitCodeOf("taskloom_no_such_command_xyz 2>/dev/null")).to.equal(127);
    });
    it("reports 126 for a file that is not executable", async () => {
      const f = join(dir, "notexec.sh");
      writeFileSync(f, "#!/bin/bash\necho hi\n");
      chmodSync(f, 0o644);
      expect(await exitCodeOf(`${f} 2>/dev/null`)).to.equal(126);
    });
    it("reports 128 + signal number when killed by a signal", async () => {
      expect(await exitCodeOf("kill -TERM $$")).to.equal(143);
    });
    it("carries the app name and stream paths", async () => {
      const out = join(dir, "o.txt");
      const e = await rejection(runShell("myapp", "exit 3", spec({ stdout: [out, "w"] }), undefined));
      expect(e).to.be.instanceOf(ShellExitError);
      expect((e as ShellExitError).appName).to.equal("myapp");
      expect((e as ShellExitError).stdout).to.equal(out);
    });
  });

  describe("streams", () => {
    it("appends to stdout with mode a", async () => {
      const out = join(dir, "sub", "out.txt");
      await runShell("t", "echo one", spec({ stdout: [out, "a"] }), undefined);
      await runShell("t", "echo two", spec({ stdout: [out, "a"] }), undefined);
      expect(readFileSync(out, "utf8")).to.equal("one\ntwo\n");
    });
    it("truncates stdout with mode w", async () => {
      const out = join(dir, "out.txt");
      await runShell("t", "echo one", spec({ stdout: [out, "w"] }), undefined);
      await runShell("t", "echo two", spec({ stdout: [out, "w"] }), undefined);
      expect(readFileSync(out, "utf8")).to.equal("two\n");
    });
    it("writes the executable header and the command into stderr", async () => {
      const err = join(dir, "err.txt");
      const command = "echo oops >&2";
      await runShell("t", command, spec({ stderr: [err, "w"] }), undefined);
      expect(readFileSync(err, "utf8")).to.equal(
        `--> executable follows <--\n${command}\n--> end executable <--\noops\n`,
      );
    });
    it("shares one file between stdout and stderr without overwriting", async () => {
      const both = join(dir, "both.txt");
      await runShell("t", "echo out; echo err >&2", spec({ stdout: [both, "w"], stderr: [both, "w"] }), undefined);
      expect(readFileSync(both, "utf8")).to.match(
        /^--> executable follows <--\n[^]*--> end executable <--\nout\nerr\n$/,
      );
    });
    it("throws ConfigError naming stdout when the file cannot be opened", async () => {
      writeFileSync(join(dir, "afile"), "");
      const bad = join(dir, "afile", "x.out");
      const e = await rejection(runShell("t", "echo hi", spec({ stdout: [bad, "w"] }), undefined));
      expect(e).to.be.instanceOf(ConfigError);
      expect((e as Error).message)
        .to.contain("stdout")
        .and.to.contain(bad);
    });
  });

  describe("walltime", () => {
    it("rejects AppTimeoutError well before the command would end", async () => {
      const start = Date.now();
      const e = await rejection(runShell("t", "sleep 5", spec(), 0.2));
      expect(e).to.be.instanceOf(AppTimeoutError);
      expect((e as AppTimeoutError).walltime).to.equal(0.2);
      expect(Date.now() - start).to.be.below(2000);
    });
    it("kills the whole process group, background jobs included", async () => {
      const pidFile = join(dir, "pid");
      const e = await rejection(runShell("t", `sleep 30 & echo $! > ${pidFile}; sleep 30`, spec(), 0.3));
      expect(e).to.be.instanceOf(AppTimeoutError);
      const bgPid = Number(readFileSync(pidFile, "utf8").trim());
      expect(bgPid).to.be.greaterThan(1);
      expect(await waitUntilGone(bgPid, 2000)).to.equal(true);
    });
    it("honours a fractional walltime of 0.01 s", async () => {
      expect(await rejection(runShell("t", "sleep 0.5", spec(), 0.01))).to.be.instanceOf(AppTimeoutError);
    });
    it("throws ConfigError for a walltime that is not a positive number", async () => {
      expect(await rejection(runShell("t", "true", spec(), -1))).to.be.instanceOf(ConfigError);
    });
    it("succeeds when the walltime is long enough", async () => {
      expect(await runShell("t", "sleep 0.05", spec(), 5)).to.equal(0);
    });
  });

  describe("outputs", () => {
    it("rejects MissingOutputsError listing the missing path", async () => {
      const made = join(dir, "made.txt");
      const missing = join(dir, "missing.txt");
      const e = await rejection(runShell("t", `touch ${made}`, spec({ outputs: [made, missing] }), undefined));
      expect(e).to.be.instanceOf(MissingOutputsError);
      expect((e as MissingOutputsError).outputs).to.deep.equal([missing]);
    });
    it("resolves 0 when every output exists", async () => {
      const a = join(dir, "a.txt");
      expect(await runShell("t", `touch ${a}`, spec({ outputs: [a] }), undefined)).to.equal(0);
    });
  });

  it("runs a multi-line command", async () => {
    const command = [`cd ${dir}`, "echo 1 > f1.txt", "echo 2 > f2.txt", "echo 3 > f3.txt", "echo done"].join("\n");
    const out = join(dir, "out.txt");
    const outputs = ["f1.txt", "f2.txt", "f3.txt"].map((f) => join(dir, f));
    expect(await runShell("t", command, spec({ stdout: [out, "w"], outputs }), undefined)).to.equal(0);
    expect(outputs.map((f) => readFileSync(f, "utf8"))).to.deep.equal(["1\n", "2\n", "3\n"]);
    expect(readFileSync(out, "utf8")).to.equal("done\n");
  });

  it("throws ConfigError for a command that is not a string", async () => {
    const e = await rejection(runShell("t", 42, spec(), undefined));
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).message).to.equal("shell app t must return a command string, got 42 (number)");
  });

  it("calls onSpawn with the group id and onExit after the exit", async () => {
    const calls: string[] = [];
    let seen = 0;
    await runShell("t", "echo $$ > " + join(dir, "pid"), spec(), undefined, {
      onSpawn: (pid) => {
        seen = pid;
        calls.push("spawn");
      },
      onExit: () => calls.push("exit"),
    });
    expect(calls).to.deep.equal(["spawn", "exit"]);
    expect(Number(readFileSync(join(dir, "pid"), "utf8"))).to.equal(seen);
  });

  it("killProcessGroup stops a running command and ignores a gone group", async () => {
    let spawned: (pid: number) => void = () => {};
    const started = new Promise<number>((r) => (spawned = r));
    const run = runShell("t", "sleep 30", spec(), undefined, { onSpawn: spawned });
    const pid = await started;
    killProcessGroup(pid);
    const e = await rejection(run);
    expect((e as ShellExitError).exitCode).to.equal(137);
    expect(() => killProcessGroup(pid)).not.to.throw();
    expect(() => killProcessGroup(1)).to.throw(RangeError);
  });
});

describe("runShell runs commands as /bin/bash -c would", () => {
  const tmp = tmpDir();
  after(() => tmp.remove());

  it("gives $$ the command's own pid, sees the worker's current environment and cwd, and leaks no runner variables", async () => {
    const out = path.join(tmp.dir, "env.txt");
    const s = { stdout: [out, "w"] as const, stderr: undefined, outputs: [] };
    let pid = 0;
    await runShell("t", 'echo "$$"', s, undefined, { onSpawn: (p) => (pid = p) });
    expect(Number(fs.readFileSync(out, "utf8"))).to.equal(pid);
    process.env.TASKLOOM_SHELL_PROBE = "first";
    await runShell("t", 'echo "$TASKLOOM_SHELL_PROBE"', s, undefined);
    expect(fs.readFileSync(out, "utf8")).to.equal("first\n");
    process.env.TASKLOOM_SHELL_PROBE = "second";
    await runShell("t", 'echo "$TASKLOOM_SHELL_PROBE"', s, undefined);
    expect(fs.readFileSync(out, "utf8")).to.equal("second\n");
    delete process.env.TASKLOOM_SHELL_PROBE;
    const cwd = process.cwd();
    process.chdir(tmp.dir);
    try {
      await runShell("t", "pwd", { stdout: ["rel.txt", "w"], stderr: undefined, outputs: [] }, undefined);
    } finally {
      process.chdir(cwd);
    }
    expect(fs.readFileSync(path.join(tmp.dir, "rel.txt"), "utf8")).to.equal(fs.realpathSync(tmp.dir) + "\n");
    await runShell("t", 'echo "[${__tl_c-}][${__tl_i-}]" "$-" ; read x || echo no-stdin', s, undefined);
    expect(fs.readFileSync(out, "utf8")).to.equal("[][] hBc\nno-stdin\n");
    const err = path.join(tmp.dir, "err.txt");
    const e = await rejection(
      runShell("t", "echo oops >&2; exit 3", { stdout: undefined, stderr: [err, "w"], outputs: [] }, undefined),
    );
    expect((e as ShellExitError).exitCode).to.equal(3);
    expect(fs.readFileSync(err, "utf8")).to.match(/--> end executable <--\noops\n$/);
  });

  it("runs several commands at once, each in a process group of its own", async () => {
    const pids: number[] = [];
    const t0 = Date.now();
    await Promise.all(
      [1, 2, 3].map(() => runShell("t", "sleep 0.3", undefined, undefined, { onSpawn: (p) => pids.push(p) })),
    );
    expect(Date.now() - t0).to.be.below(900);
    expect(new Set(pids).size).to.equal(3);
  });
});

describe("a shell command outlives no worker", () => {
  const tmp = tmpDir();
  after(() => tmp.remove());

  it("dies with its group when the worker process that started it is killed", async () => {
    const pidFile = path.join(tmp.dir, "job.pid");
    const runner = path.join(tmp.dir, "runner.mjs");
    const shellJs = new URL("../../dist/executors/runtime/shell.js", import.meta.url).href;
    fs.writeFileSync(
      runner,
      // The interval keeps the worker alive (as a real worker's channel does) until the test kills it.
      `import { runShell } from ${JSON.stringify(shellJs)};\nsetInterval(() => {}, 1 << 30);\nawait runShell("t", "sleep 60 & echo $! > ${pidFile}; wait", undefined, undefined);\n`,
    );
    const child = spawn(process.execPath, [runner], { stdio: "ignore" });
    expect(await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "")).to.equal(true);
    const sleeper = Number(fs.readFileSync(pidFile, "utf8"));
    child.kill("SIGKILL");
    expect(await until(() => processGone(sleeper), 5000), "the command survived its worker").to.equal(true);
  });
});
