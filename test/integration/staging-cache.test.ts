// The node cache of staged-in files against a real HTTP server on loopback: one fetch per URL per run, a later
// run revalidating with the server (304) instead of fetching again, and a lock left by a dead process taken over.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { File } from "taskloom";
import { cachedCopy } from "../../lib/staging/cache.js";
import { HttpFiles } from "../helpers/http-files.js";
import { tmpDir } from "../helpers/tmp.js";

describe("staging cache", function () {
  this.timeout(30_000);
  const tmp = tmpDir();
  const web = new HttpFiles();
  before(async () => {
    await web.start();
  });
  after(async () => {
    await web.stop();
    tmp.remove();
  });

  it("fetches once per run, revalidates in the next run, and fetches again when the file changed", async () => {
    const dir = path.join(tmp.dir, "c1");
    web.files.set("/ref.txt", Buffer.from("v1"));
    const f = new File(`${web.url}/ref.txt`);
    const [a, b] = await Promise.all([cachedCopy(f, dir, "run1"), cachedCopy(f, dir, "run1")]);
    expect(a).to.equal(b);
    expect(await cachedCopy(f, dir, "run1")).to.equal(a);
    expect(web.count("GET", "/ref.txt")).to.equal(1);
    expect(fs.statSync(a).mode & 0o222).to.equal(0); // shared by tasks: read-only
    expect(await cachedCopy(f, dir, "run2")).to.equal(a);
    expect([web.count("GET", "/ref.txt"), web.notModified]).to.deep.equal([2, 1]);
    expect(fs.readFileSync(a, "utf8")).to.equal("v1");
    web.files.set("/ref.txt", Buffer.from("v2, changed"));
    await cachedCopy(f, dir, "run3");
    expect(fs.readFileSync(a, "utf8")).to.equal("v2, changed");
  });

  it("takes over the lock of a process that died while fetching", async () => {
    const dir = path.join(tmp.dir, "c2");
    web.files.set("/locked.txt", Buffer.from("free again"));
    const f = new File(`${web.url}/locked.txt`);
    // Find where the entry's lock goes, then leave one there from a process that is gone.
    await cachedCopy(f, dir, "probe");
    const entries = fs.readdirSync(path.join(dir, "cache")).filter((n) => n.endsWith(".json"));
    const lock = path.join(dir, "cache", entries[0]!.replace(/\.json$/, ".lock"));
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    fs.writeFileSync(lock, `${dead.stdout} ${os.hostname()}`);
    expect(fs.readFileSync(await cachedCopy(f, dir, "next"), "utf8")).to.equal("free again");
    expect(fs.existsSync(lock)).to.equal(false);
  });
});
