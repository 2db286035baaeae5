// HTTP staging against real servers on loopback: a node:http server with one route per behaviour (redirects,
// errors, resets, stalls, short bodies, PUT), and a raw TCP server that answers like `python3 -m http.server`
// (HTTP/1.0, Content-Length, close right away), the case that crashes undici 6/7 on Node 20.
import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { createRequire, syncBuiltinESMExports } from "node:module";
import * as path from "node:path";
import { ConfigError, StagingError } from "../../lib/errors.js";
import { download, upload, HttpPool } from "../../lib/staging/http.js";
import { rejection, tmpDir } from "../helpers/tmp.js";

const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");
const md5 = (b: Buffer): string => createHash("md5").update(b).digest("hex");

describe("HTTP staging (node:http server on loopback)", function () {
  this.timeout(120_000);
  const tmp = tmpDir("taskloom-http-");
  const small = randomBytes(10 * 1024);
  const big = randomBytes(50 * 1024 * 1024);
  const stored = new Map<string, Buffer>();
  const hits = new Map<string, number>();
  let connections = 0;
  // /versioned: a resource that answers conditional GETs like a static file server does.
  let versioned = randomBytes(20_000);
  const versionedAt = new Date("2024-05-01T12:00:00Z");
  const versionTag = (): string => `"v-${sha256(versioned).slice(0, 12)}"`;
  const asked = new Map<string, http.IncomingHttpHeaders>();
  let server: http.Server;
  let base: string;
  const fast = { backoffMs: 5, maxBackoffMs: 20 };
  const pool = new HttpPool();
  const dest = (name: string): string => path.join(tmp.dir, name);
  const leftovers = (): string[] => fs.readdirSync(tmp.dir).filter((f) => f.endsWith(".part"));

  before(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url!, "http://x");
      const n = (hits.get(url.pathname) ?? 0) + 1;
      hits.set(url.pathname, n);
      const send = (body: Buffer, headers: http.OutgoingHttpHeaders = {}): void => {
        res.writeHead(200, { "content-length": body.length, etag: `"${sha256(body).slice(0, 16)}"`, ...headers });
        res.end(body);
      };
      const p = url.pathname;
      asked.set(p, req.headers);
      if (req.method === "PUT") {
        const parts: Buffer[] = [];
        req.on("data", (c: Buffer) => parts.push(c));
        req.on("end", () => {
          stored.set(p, Buffer.concat(parts));
          res.writeHead(201).end("created");
        });
      } else if (p === "/small") send(small);
      else if (p === "/big") send(big);
      else if (stored.has(p)) send(stored.get(p)!);
      else if (p === "/versioned") {
        const headers = { etag: versionTag(), "last-modified": versionedAt.toUTCString() };
        const inm = req.headers["if-none-match"];
        const ims = req.headers["if-modified-since"];
        // RFC 9110: If-None-Match, when present, decides; If-Modified-Since only without it.
        const fresh = inm !== undefined ? inm === headers.etag : ims !== undefined && Date.parse(ims) >= +versionedAt;
        if (fresh) res.writeHead(304, headers).end();
        else send(versioned, headers);
      } else if (p === "/always-304") res.writeHead(304).end();
      else if (p === "/flaky") n === 1 ? res.writeHead(500).end("try again") : send(small);
      else if (p === "/busy")
        res.writeHead(429, { "retry-after": "0" }).end(n === 1 ? "slow down" : undefined) || undefined;
      else if (p === "/down") res.writeHead(503).end("maintenance");
      else if (p.startsWith("/reset")) {
        // Half a body, then a TCP reset; /reset-once recovers on the second request.
        if (p === "/reset-once" && n > 1) return send(small);
        res.writeHead(200, { "content-length": 1024 * 1024 });
        res.write(randomBytes(100 * 1024), () => res.socket?.resetAndDestroy());
      } else if (p === "/short") {
        res.writeHead(200, { "content-length": 1000 });
        res.write(Buffer.alloc(500, 1), () => res.socket?.end());
      } else if (p === "/stall") {
        res.writeHead(200, { "content-length": 10_000 });
        res.write(Buffer.alloc(1000, 2)); // ...and nothing more
      } else if (p.startsWith("/hop/")) {
        const left = Number(p.slice(5));
        res.writeHead(302, { location: left === 0 ? "/small" : `/hop/${left - 1}` }).end();
      } else res.writeHead(404).end("no such file");
    });
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    pool.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    tmp.remove();
  });

  it("downloads a small file byte-identical and reports size, sha256 (when asked) and ETag", async () => {
    const r = await download(`${base}/small`, dest("small.bin"), { pool, digest: true });
    expect(fs.readFileSync(dest("small.bin")).equals(small)).to.equal(true);
    expect(r).to.include({ bytes: small.length, sha256: sha256(small), attempts: 1, url: `${base}/small` });
    expect(r.etag).to.equal(`"${sha256(small).slice(0, 16)}"`);
    expect(r).to.not.have.property("notModified");
    const plain = await download(`${base}/small`, dest("small.bin"), { pool });
    expect(plain).to.include({ bytes: small.length }).and.not.have.property("sha256");
    expect(leftovers()).to.deep.equal([]);
  });

  it("streams a 50 MB file to disk intact", async () => {
    const r = await download(`${base}/big`, dest("sub/dir/big.bin"), { pool, digest: true });
    expect(r.bytes).to.equal(big.length);
    expect(r.sha256).to.equal(sha256(big));
    expect(sha256(fs.readFileSync(dest("sub/dir/big.bin")))).to.equal(sha256(big));
  });

  it("fails a 404 at once with a StagingError naming URL and status, leaving no file", async () => {
    const e = (await rejection(download(`${base}/nope`, dest("nope"), { pool, ...fast }))) as StagingError;
    expect(e).to.be.instanceOf(StagingError);
    expect(e.message).to.contain(`${base}/nope`).and.contain("HTTP 404").and.contain("no such file");
    expect(e).to.include({ status: 404, attempts: 1, url: `${base}/nope` });
    expect(hits.get("/nope")).to.equal(1);
    expect(fs.existsSync(dest("nope"))).to.equal(false);
    expect(leftovers()).to.deep.equal([]);
  });

  it("retries a 500 and a 429 and succeeds on the next attempt", async () => {
    const r = await download(`${base}/flaky`, dest("flaky"), { pool, ...fast });
    expect(r.attempts).to.equal(2);
    expect(hits.get("/flaky")).to.equal(2);
    expect(fs.readFileSync(dest("flaky")).equals(small)).to.equal(true);
    const e = (await rejection(download(`${base}/busy`, dest("busy"), { pool, retries: 1 }))) as StagingError;
    expect(e).to.include({ status: 429, attempts: 2 });
    expect(hits.get("/busy")).to.equal(2);
  });

  it("gives up on a server that keeps answering 503 after the configured retries", async () => {
    const e = (await rejection(download(`${base}/down`, dest("down"), { pool, ...fast, retries: 2 }))) as StagingError;
    expect(e.message).to.contain("HTTP 503").and.contain("gave up after 3 attempts");
    expect(e).to.include({ status: 503, attempts: 3 });
    expect(hits.get("/down")).to.equal(3);
  });

  it("retries a connection reset mid-body, and reports bytes received when it keeps happening", async () => {
    const r = await download(`${base}/reset-once`, dest("reset-once"), { pool, ...fast });
    expect(r.attempts).to.equal(2);
    expect(fs.readFileSync(dest("reset-once")).equals(small)).to.equal(true);
    const e = (await rejection(
      download(`${base}/reset`, dest("reset"), { pool, ...fast, retries: 1 }),
    )) as StagingError;
    expect(e.message).to.match(/after \d+ of 1048576 bytes/);
    expect(e.bytes)
      .to.be.greaterThan(0)
      .and.lessThan(1024 * 1024);
    expect(e).to.include({ status: 200, attempts: 2 });
    expect(fs.existsSync(dest("reset"))).to.equal(false);
    expect(leftovers()).to.deep.equal([]);
  });

  it("ends a download whose server goes silent, after the idle timeout", async () => {
    const t0 = Date.now();
    const e = (await rejection(
      download(`${base}/stall`, dest("stall"), { pool, retries: 0, idleTimeoutMs: 300 }),
    )) as StagingError;
    expect(Date.now() - t0).to.be.lessThan(5000);
    expect(e.message).to.contain("no data for 300 ms").and.contain("after 1000 of 10000 bytes");
    expect(e).to.include({ bytes: 1000, attempts: 1 });
    expect(fs.existsSync(dest("stall"))).to.equal(false);
  });

  it("keeps the old file when the body is shorter than its Content-Length", async () => {
    fs.writeFileSync(dest("short"), "previous complete version");
    const e = (await rejection(download(`${base}/short`, dest("short"), { pool, retries: 0 }))) as StagingError;
    expect(e.message).to.contain("after 500 of 1000 bytes");
    expect(e).to.include({ bytes: 500, status: 200 });
    expect(fs.readFileSync(dest("short"), "utf8")).to.equal("previous complete version");
    expect(leftovers()).to.deep.equal([]);
  });

  it("checks sha256 and md5 checksums while streaming and rejects a mismatch", async () => {
    const r = await download(`${base}/big`, dest("sum.bin"), { pool, checksum: `sha256:${sha256(big)}` });
    expect(r.sha256).to.equal(sha256(big)); // computed for the check anyway, so reported
    await download(`${base}/small`, dest("md5.bin"), { pool, checksum: `md5:${md5(small).toUpperCase()}` });
    const wrong = `sha256:${"0".repeat(64)}`;
    const e = (await rejection(download(`${base}/small`, dest("bad.bin"), { pool, checksum: wrong }))) as StagingError;
    expect(e.message).to.contain("checksum mismatch").and.contain(sha256(small));
    expect(e.attempts).to.equal(1);
    expect(fs.existsSync(dest("bad.bin"))).to.equal(false);
    expect(await rejection(download(`${base}/small`, dest("x"), { checksum: "sha1:abc" }))).to.be.instanceOf(
      ConfigError,
    );
  });

  it("revalidates with If-None-Match: a 304 leaves the file untouched, a changed ETag replaces it", async () => {
    const first = await download(`${base}/versioned`, dest("v.bin"), { pool });
    expect(first.etag).to.equal(versionTag());
    const old = new Date("2020-01-01T00:00:00Z");
    fs.utimesSync(dest("v.bin"), old, old);

    const same = await download(`${base}/versioned`, dest("v.bin"), { pool, ifNoneMatch: first.etag!, digest: true });
    expect(asked.get("/versioned")!["if-none-match"]).to.equal(first.etag);
    expect(same).to.deep.include({ notModified: true, bytes: 0, etag: first.etag, attempts: 1, path: dest("v.bin") });
    expect(same.lastModified?.getTime()).to.equal(versionedAt.getTime());
    expect(same).to.not.have.property("sha256");
    expect(fs.statSync(dest("v.bin")).mtimeMs).to.equal(old.getTime());
    expect(fs.readFileSync(dest("v.bin")).equals(versioned)).to.equal(true);
    expect(leftovers()).to.deep.equal([]);

    versioned = randomBytes(30_000);
    const changed = await download(`${base}/versioned`, dest("v.bin"), { pool, ifNoneMatch: first.etag! });
    expect(changed).to.include({ bytes: 30_000, etag: versionTag() }).and.not.have.property("notModified");
    expect(changed.etag).to.not.equal(first.etag);
    expect(fs.readFileSync(dest("v.bin")).equals(versioned)).to.equal(true);
    expect(leftovers()).to.deep.equal([]);
  });

  it("revalidates with If-Modified-Since, and a 304 creates no file where there was none", async () => {
    const r = await download(`${base}/versioned`, dest("ims/v.bin"), { pool, ifModifiedSince: versionedAt });
    expect(asked.get("/versioned")!["if-modified-since"]).to.equal(versionedAt.toUTCString());
    expect(asked.get("/versioned")!).to.not.have.property("if-none-match");
    expect(r).to.include({ notModified: true, bytes: 0 });
    expect(fs.existsSync(dest("ims/v.bin"))).to.equal(false);
    expect(fs.readdirSync(dest("ims"))).to.deep.equal([]);

    const older = new Date(versionedAt.getTime() - 60_000);
    const newer = await download(`${base}/versioned`, dest("ims/v.bin"), { pool, ifModifiedSince: older });
    expect(newer).to.include({ bytes: versioned.length }).and.not.have.property("notModified");
    expect(fs.readFileSync(dest("ims/v.bin")).equals(versioned)).to.equal(true);
    expect(
      await rejection(download(`${base}/versioned`, dest("x"), { ifModifiedSince: new Date("no") })),
    ).to.be.instanceOf(ConfigError);
  });

  it("fails a 304 to an unconditional request, as before", async () => {
    const e = (await rejection(download(`${base}/always-304`, dest("a304"), { pool, ...fast }))) as StagingError;
    expect(e).to.be.instanceOf(StagingError);
    expect(e.message).to.contain("HTTP 304");
    expect(e).to.include({ status: 304, attempts: 1 });
    expect(fs.existsSync(dest("a304"))).to.equal(false);
    expect(leftovers()).to.deep.equal([]);
  });

  it("follows redirects up to the limit", async () => {
    const r = await download(`${base}/hop/3`, dest("hop"), { pool });
    expect(r.url).to.equal(`${base}/small`);
    expect(fs.readFileSync(dest("hop")).equals(small)).to.equal(true);
    const e = (await rejection(download(`${base}/hop/9`, dest("loop"), { pool, maxRedirects: 5 }))) as StagingError;
    expect(e.message).to.contain("more than 5 redirects");
    expect(e.status).to.equal(302);
  });

  it("uploads with PUT and reads the same bytes back", async () => {
    const src = dest("up.bin");
    const body = randomBytes(3 * 1024 * 1024 + 7);
    fs.writeFileSync(src, body);
    const r = await upload(src, `${base}/store/up.bin`, { pool });
    expect(r).to.include({ status: 201, bytes: body.length, sha256: sha256(body), attempts: 1 });
    expect(stored.get("/store/up.bin")!.equals(body)).to.equal(true);
    const back = await download(`${base}/store/up.bin`, dest("back.bin"), { pool, digest: true });
    expect(back.sha256).to.equal(sha256(body));
    const missing = await rejection(upload(dest("does-not-exist"), `${base}/store/x`, { pool }));
    expect(missing).to.be.instanceOf(StagingError);
  });

  it("fetches 1,000 small files over a handful of kept-alive connections", async () => {
    const own = new HttpPool({ maxSocketsPerHost: 4 });
    const before = connections;
    try {
      const names = Array.from({ length: 1000 }, (_, i) => dest(`many/${i}`));
      for (let i = 0; i < names.length; i += 50) {
        await Promise.all(names.slice(i, i + 50).map((n) => download(`${base}/small`, n, { pool: own })));
      }
      expect(fs.readdirSync(dest("many"))).to.have.length(1000);
      expect(fs.readFileSync(names[999]!).equals(small)).to.equal(true);
    } finally {
      own.destroy();
    }
    expect(connections - before).to.be.within(1, 4);
  });
});

describe("HTTP staging from a server that closes the connection after each body", function () {
  this.timeout(180_000);
  const tmp = tmpDir("taskloom-http-close-");
  const body = randomBytes(32 * 1024 * 1024);
  let server: net.Server;
  let port: number;
  // The CommonJS export object: unlike the ESM namespace it can be patched, and syncBuiltinESMExports
  // makes `import * as fs` in the module under test see the patch.
  const fsCjs = createRequire(import.meta.url)("node:fs") as { writev: typeof fs.writev };
  const original = fsCjs.writev;
  const proto = http.IncomingMessage.prototype;
  const pauseOriginal: (this: http.IncomingMessage) => http.IncomingMessage = Reflect.get(proto, "pause");
  let slowWrites = 0;
  let pauses = 0;

  before(async () => {
    // Like `python3 -m http.server`: HTTP/1.0 answer with Content-Length, then FIN at once.
    const head = Buffer.from(
      `HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    server = net.createServer((s) => {
      s.once("data", () => s.end(Buffer.concat([head, body])));
      s.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as net.AddressInfo).port;
    // A slow disk: every write to a file waits 10 ms first, so the socket is paused (backpressure) when the FIN
    // arrives; counting the pauses proves it.
    fsCjs.writev = ((...args: unknown[]) => {
      slowWrites++;
      setTimeout(() => (original as (...a: unknown[]) => void)(...args), 10);
    }) as typeof fs.writev;
    syncBuiltinESMExports();
    proto.pause = function (this: http.IncomingMessage) {
      pauses++;
      return pauseOriginal.call(this);
    };
  });
  after(async () => {
    fsCjs.writev = original;
    syncBuiltinESMExports();
    proto.pause = pauseOriginal;
    await new Promise((r) => server.close(r));
    tmp.remove();
  });

  it("survives 20 × 32 MB downloads into a backpressured writer, each file intact", async () => {
    const want = sha256(body);
    for (let i = 0; i < 20; i++) {
      const r = await download(`http://127.0.0.1:${port}/big.bin`, path.join(tmp.dir, `big${i}`), { digest: true });
      expect(r.bytes).to.equal(body.length);
      expect(r.sha256).to.equal(want);
      expect(fs.statSync(path.join(tmp.dir, `big${i}`)).size).to.equal(body.length);
    }
    expect(sha256(fs.readFileSync(path.join(tmp.dir, "big19")))).to.equal(want);
    expect(slowWrites).to.be.greaterThan(20);
    expect(pauses).to.be.greaterThan(20);
  });
});
