// Data staging inside workflows, on both executors, against a real HTTP server on loopback (and vsftpd for FTP):
// remote inputs fetched before the task (once per node), outputs and stdout uploaded after it, failures as
// StagingError under the task's retry budget, separate staging tasks, and temporary files deleted when done.
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  DataFuture,
  File,
  HighThroughputExecutor,
  LocalProvider,
  StagingError,
  ThreadPoolExecutor,
  type DataFlowKernel,
  type Executor,
  type StagingOptions,
} from "taskloom";
import { HttpFiles } from "../helpers/http-files.js";
import { ensureService, FTP_PROBE, FTP_STATE, stopService } from "../helpers/services.js";
import { rejection, tmpDir } from "../helpers/tmp.js";
import { concat, exists, forgetOut, readEverywhere, readText, say, writeOut } from "../fixtures/staging-apps.js";

const EXECUTORS: { name: string; make: (staging: StagingOptions) => Executor }[] = [
  { name: "ThreadPoolExecutor", make: (staging) => new ThreadPoolExecutor({ maxThreads: 4, staging }) },
  {
    name: "HighThroughputExecutor",
    make: (staging) => new HighThroughputExecutor({ provider: new LocalProvider(), maxWorkersPerNode: 4, staging }),
  },
];

for (const ex of EXECUTORS) {
  describe(`staging on ${ex.name}`, function () {
    this.timeout(60_000);
    const tmp = tmpDir();
    const web = new HttpFiles();
    let k: DataFlowKernel | undefined;
    let n = 0;
    const start = async (staging: StagingOptions = {}, retries = 0): Promise<DataFlowKernel> =>
      (k = await load({
        executors: [ex.make({ dir: path.join(tmp.dir, `staging${n}`), ...staging })],
        runDir: path.join(tmp.dir, `run${n++}`),
        retries,
        initializeLogging: false,
      }));
    before(async () => {
      await web.start();
    });
    afterEach(async () => {
      await k?.cleanup();
      k = undefined;
    });
    after(async () => {
      await web.stop();
      tmp.remove();
    });

    it("fetches remote inputs given positionally, inside objects and in inputs; the caller's Files stay as they were", async () => {
      await start();
      for (const [p, t] of [
        ["/a.txt", "alpha"],
        ["/b.txt", "beta"],
        ["/c.txt", "gamma"],
      ] as const)
        web.files.set(p, Buffer.from(t));
      const a = new File(`${web.url}/a.txt`);
      const b = new File(`${web.url}/b.txt`);
      const c = new File(`${web.url}/c.txt`);
      expect(await readEverywhere(a, { deep: { f: b } }, { inputs: [c] })).to.deep.equal(["alpha", "beta", "gamma"]);
      // Parsl's test_1316: staging works on a copy.
      expect([a.localPath, b.localPath, c.localPath]).to.deep.equal([undefined, undefined, undefined]);
      const r = await readText(a);
      expect(r.text).to.equal("alpha");
      expect(r.path.startsWith(path.join(tmp.dir, "staging0"))).to.equal(true);
    });

    it("fetches a file many tasks on one node share once", async () => {
      await start();
      web.files.set("/shared.bin", Buffer.alloc(2 * 1024 * 1024, 7));
      const f = new File(`${web.url}/shared.bin`);
      const got = await Promise.all(Array.from({ length: 24 }, () => readText(f)));
      expect(new Set(got.map((g) => g.text.length))).to.deep.equal(new Set([2 * 1024 * 1024]));
      if (ex.name === "HighThroughputExecutor") expect(new Set(got.map((g) => g.pid)).size).to.be.greaterThan(1);
      expect(web.count("GET", "/shared.bin")).to.equal(1);
    });

    it("a missing input fails the task with StagingError (URL, status) after its retries, leaving no partial file", async () => {
      await start({}, 2);
      const e = (await rejection(readText(new File(`${web.url}/nope.txt`)))) as StagingError;
      expect(e).to.be.instanceOf(StagingError);
      expect(e.message).to.contain(`${web.url}/nope.txt`);
      expect(e.status).to.equal(404);
      expect(web.count("GET", "/nope.txt")).to.equal(3);
      const parts = fs
        .readdirSync(path.join(tmp.dir, "staging0"), { recursive: true })
        .filter((f) => String(f).endsWith(".part"));
      expect(parts).to.deep.equal([]);
    });

    it("uploads outputs after the task; the DataFuture completes after the upload and feeds the next task", async () => {
      await start();
      const out = new File(`${web.url}/up/result.txt`);
      const f = writeOut("made remotely", { outputs: [out] });
      const df = f.outputs[0]!;
      expect(df).to.be.instanceOf(DataFuture);
      const file = await df;
      expect(web.files.get("/up/result.txt")?.toString()).to.equal("made remotely");
      expect(file.url).to.equal(out.url);
      // An output is only uploaded, never fetched first (Parsl's test_elaborate_noop_file).
      expect(web.count("GET", "/up/result.txt")).to.equal(0);
      expect((await readText(df)).text).to.equal("made remotely");
      // Chained: inputs from remote outputs, concatenated into another remote output.
      const g = concat({
        inputs: [df, writeOut(" and more", { outputs: [new File(`${web.url}/up/2.txt`)] }).outputs[0]!],
        outputs: [new File(`${web.url}/up/all.txt`)],
      });
      await g.outputs[0];
      expect(web.files.get("/up/all.txt")?.toString()).to.equal("made remotely and more");
    });

    it("an output the task never wrote, or an upload the server refuses, is a StagingError", async () => {
      await start();
      const e1 = await rejection(forgetOut({ outputs: [new File(`${web.url}/up/never.txt`)] }));
      expect(e1).to.be.instanceOf(StagingError);
      expect((e1 as Error).message).to.match(/wrote no file for its output .*never\.txt/);
      web.broken.set("/up/refused.txt", 403);
      const e2 = (await rejection(writeOut("x", { outputs: [new File(`${web.url}/up/refused.txt`)] }))) as StagingError;
      expect(e2).to.be.instanceOf(StagingError);
      expect(e2.status).to.equal(403);
    });

    it("stdout given as a remote File is a DataFuture, done once its content is uploaded", async () => {
      await start();
      const f = say("hello", { stdout: new File(`${web.url}/logs/say.out`) });
      expect(f.stdout).to.be.instanceOf(DataFuture);
      await f;
      await (f.stdout as DataFuture);
      expect(web.files.get("/logs/say.out")?.toString()).to.equal("hello\n");
    });

    it("a checksum mismatch fails the task and keeps the bad bytes out of the cache", async () => {
      await start();
      web.files.set("/sum.txt", Buffer.from("payload"));
      const bad = new File(`${web.url}/sum.txt`, { checksum: `sha256:${"0".repeat(64)}` });
      const e = await rejection(readText(bad));
      expect(e).to.be.instanceOf(StagingError);
      expect((e as Error).message).to.match(/checksum mismatch/);
      const good = new File(`${web.url}/sum.txt`, {
        checksum: "sha256:239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5",
      });
      expect((await readText(good)).text).to.equal("payload");
    });

    it("separate-task mode fetches each input in a task of its own that the app waits for", async () => {
      const dfk = await start({ mode: "separate-task" }, 1);
      web.files.set("/sep.txt", Buffer.from("separately"));
      expect((await readText(new File(`${web.url}/sep.txt`))).text).to.equal("separately");
      expect(dfk.taskStateCounts().exec_done).to.equal(2);
      // A failed staging task is the app's StagingError, not a DependencyError, after the app's retry budget.
      const e = await rejection(readText(new File(`${web.url}/gone.txt`)));
      expect(e).to.be.instanceOf(StagingError);
      expect(web.count("GET", "/gone.txt")).to.equal(2);
    });

    it("deletes a temporary file once the tasks that read it are done, and an unread one at cleanup", async () => {
      await start();
      const mid = new File(path.join(tmp.dir, `mid-${n}.txt`), { temporary: true });
      const lone = new File(path.join(tmp.dir, `lone-${n}.txt`), { temporary: true });
      const made = writeOut("temp", { outputs: [mid] }).outputs[0]!;
      const reads = [readText(made), readText(made)];
      await writeOut("unread", { outputs: [lone] });
      expect((await Promise.all(reads)).map((r) => r.text)).to.deep.equal(["temp", "temp"]);
      expect(await exists(mid.path)).to.equal(false);
      expect(fs.existsSync(lone.path)).to.equal(true);
      await k!.cleanup();
      expect(fs.existsSync(lone.path)).to.equal(false);
    });
  });
}

describe("staging over FTP in a workflow (vsftpd)", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let k: DataFlowKernel | undefined;
  let base = "";
  before(async function () {
    ensureService(this, "ftp", FTP_PROBE);
    const port = fs.readFileSync(`${FTP_STATE}/port`, "utf8").trim();
    const user = fs.readFileSync(`${FTP_STATE}/user`, "utf8").trim();
    const password = fs.readFileSync(`${FTP_STATE}/password`, "utf8").trim();
    base = `ftp://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
    fs.writeFileSync(`${FTP_STATE}/anon/pub/flow-in.txt`, "from ftp");
    k = await load({
      executors: [new ThreadPoolExecutor({ maxThreads: 2, staging: { dir: path.join(tmp.dir, "staging") } })],
      runDir: path.join(tmp.dir, "run"),
      initializeLogging: false,
    });
  });
  after(async () => {
    await k?.cleanup();
    stopService("ftp");
    tmp.remove();
  });

  it("reads an anonymous FTP input and stores an output with the user's login", async () => {
    const port = fs.readFileSync(`${FTP_STATE}/port`, "utf8").trim();
    const input = new File(`ftp://127.0.0.1:${port}/pub/flow-in.txt`);
    const out = new File(`${base}/flow/${process.pid}/out.txt`);
    await concat({ inputs: [input], outputs: [out] }).outputs[0];
    expect(fs.readFileSync(`${FTP_STATE}/home/flow/${process.pid}/out.txt`, "utf8")).to.equal("from ftp");
    // And back in through FTP with the same credentials.
    expect((await readText(out)).text).to.equal("from ftp");
  });
});
