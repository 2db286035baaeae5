import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { File, ShellExitError, AppTimeoutError, MissingOutputsError } from "taskloom";
import { executorCases, kernelForSuite } from "../helpers/executors.js";
import { processGone, rejection, until } from "../helpers/tmp.js";
import { echo, exitWith, shell, touch, catInto } from "../fixtures/apps.js";

for (const ex of executorCases) {
  describe(`shell apps on ${ex.name}`, () => {
    const suite = kernelForSuite(ex);
    const p = (name: string): string => path.join(suite.dir, name);

    it("resolves to 0 and writes stdout to a path (appending)", async () => {
      expect(await echo("one", { stdout: p("out.txt") })).to.equal(0);
      expect(await echo("two", { stdout: p("out.txt") })).to.equal(0);
      expect(fs.readFileSync(p("out.txt"), "utf8")).to.equal("one\ntwo\n");
    });

    it('truncates with [path, "w"]', async () => {
      await echo("old", { stdout: p("w.txt") });
      await echo("new", { stdout: [p("w.txt"), "w"] });
      expect(fs.readFileSync(p("w.txt"), "utf8")).to.equal("new\n");
    });

    it("keeps exit codes as bash gives them", async () => {
      for (const [cmd, code] of [
        ["echo $((5/0)) 2>/dev/null", 1],
        ["exit 15", 15],
        [`touch ${p("noexec")}; chmod -x ${p("noexec")}; ${p("noexec")}`, 126],
        ["no-such-command-xyz", 127],
      ] as const) {
        const e = (await rejection(shell(cmd, { stderr: p("err.txt") }))) as ShellExitError;
        expect(e, cmd).to.be.instanceOf(ShellExitError);
        expect(e.exitCode, cmd).to.equal(code);
      }
      expect(((await rejection(exitWith(3))) as ShellExitError).exitCode).to.equal(3);
    });

    it("writes the executed command to the stderr file", async () => {
      await shell("echo to-err 1>&2", { stderr: p("cmd.err") });
      const text = fs.readFileSync(p("cmd.err"), "utf8");
      expect(text).to.contain("--> executable follows <--");
      expect(text).to.contain("echo to-err 1>&2");
      expect(text).to.contain("to-err\n");
    });

    it("kills the whole process group at walltime with AppTimeoutError", async () => {
      const t0 = Date.now();
      const e = await rejection(shell(`sleep 30 & echo $! > ${p("bg.pid")}; sleep 30`, { walltime: 0.3 }));
      expect(e).to.be.instanceOf(AppTimeoutError);
      expect(Date.now() - t0).to.be.lessThan(10_000);
      const bg = Number(fs.readFileSync(p("bg.pid"), "utf8"));
      expect(await until(() => processGone(bg), 3000), "background sleep still running").to.equal(true);
      expect(await shell("sleep 0.05", { walltime: 5 })).to.equal(0);
    });

    it("fails with MissingOutputsError when a declared output is missing", async () => {
      const e = (await rejection(shell("true", { outputs: [new File(p("never.txt"))] }))) as MissingOutputsError;
      expect(e).to.be.instanceOf(MissingOutputsError);
      expect(e.message).to.contain("never.txt");
    });

    it("resolves output DataFutures to their Files after the app ran", async () => {
      const f = touch({ outputs: [new File(p("t1.txt")), new File(p("t2.txt"))] });
      const [a, b] = await Promise.all(f.outputs);
      expect(a!.filepath).to.equal(p("t1.txt"));
      expect(fs.existsSync(b!.filepath)).to.equal(true);
    });

    it("pipes files from one app to the next through DataFutures", async () => {
      fs.writeFileSync(p("in1"), "a\n");
      fs.writeFileSync(p("in2"), "b\n");
      const first = catInto({ inputs: [new File(p("in1")), new File(p("in2"))], outputs: [new File(p("mid"))] });
      const second = catInto({
        inputs: [first.outputs[0]!, new File(p("in1"))] as File[],
        outputs: [new File(p("final"))],
      });
      await second;
      expect(fs.readFileSync(p("final"), "utf8")).to.equal("a\nb\na\n");
    });

    it("runs multi-line commands", async () => {
      const cmd = `echo 1 > ${p("m1")}\necho 2 > ${p("m2")}\necho 3 > ${p("m3")}\necho done`;
      await shell(cmd, { stdout: p("m.out") });
      expect(["m1", "m2", "m3"].map((f) => fs.readFileSync(p(f), "utf8"))).to.deep.equal(["1\n", "2\n", "3\n"]);
      expect(fs.readFileSync(p("m.out"), "utf8")).to.equal("done\n");
    });

    it("rejects bad stdout specs with a clear error", async () => {
      const e = (await rejection(echo("x", { stdout: [p("x"), "r"] }))) as Error;
      expect(e.message).to.match(/stdout: expected a path string or \[path, "a" \| "w"\]/);
    });

    it("exposes stdout and stderr paths on the future", () => {
      const f = echo("x", { stdout: p("s.out"), stderr: p("s.err") });
      expect(f.stdout).to.equal(p("s.out"));
      expect(f.stderr).to.equal(p("s.err"));
      return f;
    });
  });
}
