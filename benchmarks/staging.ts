// HTTP staging speed over loopback, as JSON lines (best of 3 each):
// - one 500 MB file: taskloom's download, the same with digest (sha256) on, a plain `res.pipe(fs.createWriteStream)`
//   baseline, and `curl -o`; each line gives MB/s, the ratio to curl and the client's peak RSS.
// - 1,000 × 100 KB files one at a time and 16 at a time through one HttpPool: files/s, MB/s, and the connections
//   the server saw (the bar: 1 one at a time, at most the pool size concurrently).
// Fairness: one server process (its own, so no client shares its event loop) serves every client; the file is
// read once before timing so it is in the page cache for all; every client writes into the same directory; the
// clients take turns round by round (in a rotating order), so a noisy moment does not hit only one of them.
// Usage: npx tsx benchmarks/staging.ts [--quick]   (--quick: 100 MB and 200 small files)
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { download, HttpPool } from "../lib/staging/http.js";

const quick = process.argv.includes("--quick");
const bigMB = quick ? 100 : 500;
const smallCount = quick ? 200 : 1000;
const ROUNDS = 3;
const POOL = 8;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-bench-staging-"));
const www = path.join(dir, "www");
const out = path.join(dir, "out");
fs.mkdirSync(path.join(www, "small"), { recursive: true });
fs.mkdirSync(out);

const SERVER = `
const http = require("node:http"), fs = require("node:fs"), path = require("node:path");
let connections = 0;
const srv = http.createServer((req, res) => {
  if (req.url === "/__connections") return res.end(String(connections));
  if (!req.socket.counted) connections += req.socket.counted = 1; // sockets that served files, not this query
  const p = path.join(process.argv[1], path.normalize(decodeURIComponent(req.url)));
  fs.stat(p, (err, st) => {
    if (err || !st.isFile()) return res.writeHead(404).end();
    res.writeHead(200, { "content-length": st.size });
    fs.createReadStream(p).pipe(res);
  });
});
srv.listen(0, "127.0.0.1", () => console.log(srv.address().port));
`;

function line(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

const MB = 1024 * 1024;
const round2 = (n: number): number => Math.round(n * 100) / 100;

interface Rss {
  /** Peak RSS of the client process. */
  peak: number;
  /** How far that peak rose above the RSS just before the download (for curl: its whole peak). */
  growth: number;
}

// Peak RSS of this process while `run` goes, sampled every 5 ms.
async function withRss(run: () => Promise<void>): Promise<Rss> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  try {
    await run();
  } finally {
    clearInterval(t);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return { peak, growth: peak - before };
}

// Runs curl; resolves with its peak RSS (VmHWM, read from /proc while it runs).
function curl(url: string, dest: string): Promise<Rss> {
  return new Promise<Rss>((resolve, reject) => {
    const c = spawn("curl", ["-sS", "-o", dest, url], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    let hwm = 0;
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${c.pid}/status`, "utf8"));
        if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
      } catch {
        // exited between two polls
      }
    }, 5);
    c.on("error", reject);
    c.on("exit", (code) => {
      clearInterval(poll);
      if (code === 0) resolve({ peak: hwm, growth: hwm });
      else reject(new Error(`curl exited with ${code}: ${err}`));
    });
  });
}

const chunk = randomBytes(MB);
const fd = fs.openSync(path.join(www, "big.bin"), "w");
for (let i = 0; i < bigMB; i++) fs.writeSync(fd, chunk);
fs.closeSync(fd);
const small = randomBytes(100 * 1024);
for (let i = 0; i < smallCount; i++) fs.writeFileSync(path.join(www, "small", `${i}.bin`), small);

const server = spawn(process.execPath, ["-e", SERVER, www], { stdio: ["ignore", "pipe", "inherit"] });
const pool = new HttpPool({ maxSocketsPerHost: POOL });
const agent = new http.Agent({ keepAlive: true });
try {
  const port = await new Promise<string>((r) => createInterface({ input: server.stdout }).once("line", r));
  const base = `http://127.0.0.1:${port}`;
  const connections = async (): Promise<number> => Number(await (await fetch(`${base}/__connections`)).text());
  const bigUrl = `${base}/big.bin`;
  const dest = path.join(out, "big.bin");

  const clients: Record<string, () => Promise<Rss>> = {
    curl: () => curl(bigUrl, dest),
    // What staging on a worker does (blocking writes; see DownloadOptions.syncWrites).
    "taskloom-stage-in": () => withRss(async () => void (await download(bigUrl, dest, { pool, syncWrites: true }))),
    taskloom: () => withRss(async () => void (await download(bigUrl, dest, { pool }))),
    "taskloom+digest": () => withRss(async () => void (await download(bigUrl, dest, { pool, digest: true }))),
    "node-pipe": () =>
      withRss(async () => {
        const res = await new Promise<http.IncomingMessage>((r, j) => http.get(bigUrl, { agent }, r).on("error", j));
        await pipeline(res, fs.createWriteStream(dest));
      }),
  };
  const best = new Map<string, { seconds: number; rss: Rss }>();
  // Round 0 warms up: the page cache (the server reads the file), the keep-alive connections and the JIT.
  for (let round = 0; round <= ROUNDS; round++) {
    // Each round starts with the next client, so none always runs right after the same other one.
    const order = Object.entries(clients);
    for (const [name, run] of [...order.slice(round % order.length), ...order.slice(0, round % order.length)]) {
      const t0 = performance.now();
      const rss = await run();
      const seconds = (performance.now() - t0) / 1000;
      if (fs.statSync(dest).size !== bigMB * MB) throw new Error(`${name}: wrong size`);
      fs.rmSync(dest);
      if (round > 0 && seconds < (best.get(name)?.seconds ?? Infinity)) best.set(name, { seconds, rss });
    }
  }
  const curlSeconds = best.get("curl")!.seconds;
  for (const [client, b] of best) {
    line({
      bench: "http-1-big",
      client,
      mb: bigMB,
      seconds: round2(b.seconds),
      mbPerSec: Math.round(bigMB / b.seconds),
      ratioToCurl: round2(curlSeconds / b.seconds),
      rssPeakMB: Math.round(b.rss.peak / MB),
      rssGrowthMB: Math.round(b.rss.growth / MB),
      bestOf: ROUNDS,
    });
  }

  for (const concurrency of [1, 16]) {
    let fastest = Infinity;
    let opened = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const own = new HttpPool({ maxSocketsPerHost: POOL });
      const before = await connections();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let i = next++; i < smallCount; i = next++) {
            await download(`${base}/small/${i}.bin`, path.join(out, "small", `${i}.bin`), { pool: own });
          }
        }),
      );
      const s = (performance.now() - t0) / 1000;
      own.destroy();
      opened = Math.max(opened, (await connections()) - before);
      fastest = Math.min(fastest, s);
      fs.rmSync(path.join(out, "small"), { recursive: true, force: true });
    }
    line({
      bench: "http-many-small",
      files: smallCount,
      kb: 100,
      concurrency,
      poolSize: POOL,
      seconds: round2(fastest),
      filesPerSec: Math.round(smallCount / fastest),
      mbPerSec: Math.round((smallCount * small.length) / MB / fastest),
      connectionsOpened: opened,
      bestOf: ROUNDS,
    });
  }
} finally {
  pool.destroy();
  agent.destroy();
  server.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}
