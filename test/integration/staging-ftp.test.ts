// FTP staging against a real vsftpd on loopback (test/services/ftp-up.sh): anonymous read-only downloads, uploads
// as a local user with credentials from the URL or a netrc file, and the failures a user meets (missing file,
// refused login, refused upload, checksum mismatch, nothing listening).
import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { StagingError } from "../../lib/errors.js";
import { download, upload } from "../../lib/staging/ftp.js";
import { netrcFor, parseNetrc } from "../../lib/staging/netrc.js";
import { ensureService, stopService } from "../helpers/services.js";
import { rejection, tmpDir } from "../helpers/tmp.js";

const STATE = "/tmp/taskloom-ftpd"; // ftp-up.sh's default state directory
const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

describe("netrc parsing", () => {
  it("finds a machine entry, falls back to default, skips macros and reads quoted tokens", () => {
    const text = [
      "machine a.example.org login alice password s3cret",
      "macdef init",
      "machine evil login mallory password x",
      "",
      'machine B.example.org\n  login bob\n  password "pass word"',
      "default login anonymous password me@example.org",
    ].join("\n");
    expect(parseNetrc(text)).to.have.length(3);
    const t = tmpDir("taskloom-netrc-");
    try {
      const file = path.join(t.dir, "netrc");
      fs.writeFileSync(file, text);
      expect(netrcFor("a.example.org", file)).to.include({ login: "alice", password: "s3cret" });
      expect(netrcFor("b.example.org", file)).to.include({ login: "bob", password: "pass word" });
      expect(netrcFor("evil", file)).to.include({ login: "anonymous", password: "me@example.org" });
      expect(netrcFor("x", path.join(t.dir, "missing"))).to.equal(undefined);
    } finally {
      t.remove();
    }
  });
});

describe("FTP staging against vsftpd", function () {
  this.timeout(120_000);
  const tmp = tmpDir("taskloom-ftp-");
  const small = randomBytes(20_000);
  const big = randomBytes(50 * 1024 * 1024);
  let base: string;
  let user: string;
  let password: string;
  const dest = (name: string): string => path.join(tmp.dir, name);
  const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith(".part"));

  before(function () {
    ensureService(
      this,
      "ftp",
      `kill -0 "$(cat ${STATE}/vsftpd.pid)" && (exec 3<>/dev/tcp/127.0.0.1/$(cat ${STATE}/port)) 2>/dev/null`,
    );
    base = `ftp://127.0.0.1:${fs.readFileSync(`${STATE}/port`, "utf8").trim()}`;
    user = fs.readFileSync(`${STATE}/user`, "utf8").trim();
    password = fs.readFileSync(`${STATE}/password`, "utf8").trim();
    fs.writeFileSync(`${STATE}/anon/pub/small.bin`, small);
    fs.writeFileSync(`${STATE}/anon/pub/big.bin`, big);
  });
  after(() => {
    stopService("ftp");
    tmp.remove();
  });

  it("downloads small and 50 MB files anonymously, byte-identical, with the server's modification time", async () => {
    const r = await download(`${base}/pub/small.bin`, dest("small.bin"), { netrc: false, digest: true });
    expect(r).to.include({ bytes: small.length, sha256: sha256(small), attempts: 1 });
    expect(r.lastModified).to.be.instanceOf(Date);
    expect(fs.readFileSync(dest("small.bin")).equals(small)).to.equal(true);
    const b = await download(`${base}/pub/big.bin`, dest("deep/big.bin"), { checksum: `sha256:${sha256(big)}` });
    expect(b.bytes).to.equal(big.length);
    expect(sha256(fs.readFileSync(dest("deep/big.bin")))).to.equal(sha256(big));
    expect(leftovers(tmp.dir)).to.deep.equal([]);
  });

  it("skips the transfer when the server's file is not newer than ifModifiedSince (MDTM), else replaces the file", async () => {
    const onServer = `${STATE}/anon/pub/cond.bin`;
    const v1 = randomBytes(3000);
    const t1 = new Date("2024-05-01T12:00:00Z");
    fs.writeFileSync(onServer, v1);
    fs.utimesSync(onServer, t1, t1);
    const first = await download(`${base}/pub/cond.bin`, dest("cond.bin"), { netrc: false });
    expect(first.lastModified?.getTime()).to.equal(t1.getTime());
    const old = new Date("2020-01-01T00:00:00Z");
    fs.utimesSync(dest("cond.bin"), old, old);

    for (const since of [t1, new Date(t1.getTime() + 999), new Date(t1.getTime() + 3_600_000)]) {
      // ifNoneMatch means nothing to FTP and must not get in the way.
      const same = await download(`${base}/pub/cond.bin`, dest("cond.bin"), {
        netrc: false,
        ifModifiedSince: since,
        ifNoneMatch: '"whatever"',
        digest: true,
      });
      expect(same).to.deep.include({ notModified: true, bytes: 0, attempts: 1, path: dest("cond.bin") });
      expect(same.lastModified?.getTime()).to.equal(t1.getTime());
      expect(same).to.not.have.property("sha256");
    }
    expect(fs.statSync(dest("cond.bin")).mtimeMs).to.equal(old.getTime());
    expect(fs.readFileSync(dest("cond.bin")).equals(v1)).to.equal(true);
    expect(leftovers(tmp.dir)).to.deep.equal([]);

    const v2 = randomBytes(4000);
    const t2 = new Date(t1.getTime() + 60_000);
    fs.writeFileSync(onServer, v2);
    fs.utimesSync(onServer, t2, t2);
    const newer = await download(`${base}/pub/cond.bin`, dest("cond.bin"), { netrc: false, ifModifiedSince: t1 });
    expect(newer).to.include({ bytes: v2.length }).and.not.have.property("notModified");
    expect(newer.lastModified?.getTime()).to.equal(t2.getTime());
    expect(fs.readFileSync(dest("cond.bin")).equals(v2)).to.equal(true);
    expect(leftovers(tmp.dir)).to.deep.equal([]);
  });

  it("fails a missing file at once (550) and leaves no file", async () => {
    const t0 = Date.now();
    const e = (await rejection(download(`${base}/pub/nope.bin`, dest("nope"), { retries: 3 }))) as StagingError;
    expect(e).to.be.instanceOf(StagingError);
    expect(e.message).to.contain(`${base}/pub/nope.bin`).and.contain("550");
    expect(e).to.include({ status: 550, attempts: 1 });
    expect(Date.now() - t0).to.be.lessThan(2000);
    expect(fs.existsSync(dest("nope"))).to.equal(false);
    expect(leftovers(tmp.dir)).to.deep.equal([]);
  });

  it("rejects a checksum mismatch without leaving a file", async () => {
    const e = (await rejection(
      download(`${base}/pub/small.bin`, dest("bad"), { checksum: `md5:${"f".repeat(32)}` }),
    )) as StagingError;
    expect(e.message).to.contain("checksum mismatch");
    expect(fs.existsSync(dest("bad"))).to.equal(false);
  });

  it("uploads as a local user (credentials in the URL) into a new directory, renamed into place when whole", async () => {
    const src = dest("up.bin");
    const body = randomBytes(5 * 1024 * 1024 + 3);
    fs.writeFileSync(src, body);
    const url = `ftp://${user}:${encodeURIComponent(password)}@${base.slice(6)}/runs/7/up.bin`;
    const r = await upload(src, url);
    expect(r).to.include({ bytes: body.length, sha256: sha256(body), status: 226, attempts: 1 });
    expect(r.url).to.not.contain(password);
    const onServer = `${STATE}/home/runs/7`;
    expect(fs.readFileSync(path.join(onServer, "up.bin")).equals(body)).to.equal(true);
    expect(fs.readdirSync(onServer).filter((f) => f.startsWith("."))).to.deep.equal([]);
    const back = await download(url, dest("back.bin"), { digest: true });
    expect(back.sha256).to.equal(sha256(body));
  });

  it("takes credentials from a netrc file for the host", async () => {
    const netrc = dest("netrc");
    fs.writeFileSync(netrc, `machine 127.0.0.1\n  login ${user}\n  password ${password}\n`);
    fs.writeFileSync(dest("n.txt"), "via netrc\n");
    await upload(dest("n.txt"), `${base}/n.txt`, { netrc });
    expect(fs.readFileSync(`${STATE}/home/n.txt`, "utf8")).to.equal("via netrc\n");
    const r = await download(`${base}/n.txt`, dest("n-back.txt"), { netrc });
    expect(r.bytes).to.equal(10);
  });

  it("fails a refused login (530) at once, with a clear StagingError and no password in it", async () => {
    const t0 = Date.now();
    const url = `ftp://${user}:wrong-password@${base.slice(6)}/n.txt`;
    const e = (await rejection(download(url, dest("denied"), { retries: 3 }))) as StagingError;
    expect(e).to.be.instanceOf(StagingError);
    expect(e.message).to.contain(`FTP login as ${user}`).and.contain("530");
    expect(e.message).to.not.contain("wrong-password");
    expect(e).to.include({ status: 530, attempts: 1 });
    expect(Date.now() - t0).to.be.lessThan(5000);
    expect(fs.existsSync(dest("denied"))).to.equal(false);
  });

  it("reports a refused anonymous upload without retrying it", async () => {
    fs.writeFileSync(dest("anon.txt"), "x");
    const e = (await rejection(
      upload(dest("anon.txt"), `${base}/pub/anon.txt`, { netrc: false, retries: 3 }),
    )) as StagingError;
    expect(e).to.be.instanceOf(StagingError);
    expect(e.status).to.be.within(500, 599);
    expect(e.attempts).to.equal(1);
    expect(fs.existsSync(`${STATE}/anon/pub/anon.txt`)).to.equal(false);
  });

  it("fails fast when nothing listens on the port", async () => {
    const port = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const e = (await rejection(download(`ftp://127.0.0.1:${port}/x`, dest("refused")))) as StagingError;
    expect(e).to.be.instanceOf(StagingError);
    expect(e.message).to.contain("ECONNREFUSED");
  });
});
