// HTTP staging speed over loopback, as JSON lines: one 500 MB file with taskloom's download vs `curl -o` (same
// server, same file, best of 3 each), then 1,000 × 100 KB files (files/s, MB/s, connections the server saw).
// The server runs in its own process so that neither client shares an event loop with it.
// Usage: npx tsx benchmarks/staging.ts [--quick]   (--quick: 100 MB and 200 small files)
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { download, HttpPool } from "../lib/staging/http.js";

const quick = process.argv.includes("--quick");
const bigMB = quick ? 100 : 500;
const smallCount = quick ? 200 : 1000;
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

const chunk = randomBytes(1024 * 1024);
const fd = fs.openSync(path.join(www, "big.bin"), "w");
for (let i = 0; i < bigMB; i++) fs.writeSync(fd, chunk);
fs.closeSync(fd);
const small = randomBytes(100 * 1024);
for (let i = 0; i < smallCount; i++) fs.writeFileSync(path.join(www, "small", `${i}.bin`), small);

const server = spawn(process.execPath, ["-e", SERVER, www], { stdio: ["ignore", "pipe", "inherit"] });
try {
  const port = await new Promise<string>((r) => createInterface({ input: server.stdout }).once("line", r));
  const base = `http://127.0.0.1:${port}`;
  const connections = async (): Promise<number> => Number(await (await fetch(`${base}/__connections`)).text());
  const bytes = bigMB * 1024 * 1024;
  const best = async (run: () => Promise<void> | void): Promise<number> => {
    let min = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await run();
      min = Math.min(min, performance.now() - t0);
      fs.rmSync(path.join(out, "big.bin"), { force: true });
    }
    return min / 1000;
  };
  const ours = await best(async () => void (await download(`${base}/big.bin`, path.join(out, "big.bin"))));
  line({ bench: "http-1-big", client: "taskloom", mb: bigMB, seconds: ours, mbPerSec: bigMB / ours });
  const curl = await best(() => {
    const r = spawnSync("curl", ["-sS", "-o", path.join(out, "big.bin"), `${base}/big.bin`]);
    if (r.status !== 0) throw new Error(`curl failed: ${r.stderr.toString()}`);
  });
  line({ bench: "http-1-big", client: "curl", mb: bigMB, seconds: curl, mbPerSec: bigMB / curl });
  line({ bench: "http-1-big", ratioToCurl: curl / ours, bytes });

  for (const concurrency of [1, 16]) {
    const pool = new HttpPool();
    const before = await connections();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < smallCount; i = next++) {
          await download(`${base}/small/${i}.bin`, path.join(out, "small", `${i}.bin`), { pool });
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    pool.destroy();
    line({
      bench: "http-many-small",
      files: smallCount,
      kb: 100,
      concurrency,
      seconds: s,
      filesPerSec: smallCount / s,
      mbPerSec: (smallCount * small.length) / 1024 / 1024 / s,
      connectionsOpened: (await connections()) - before,
    });
    fs.rmSync(path.join(out, "small"), { recursive: true, force: true });
  }
} finally {
  server.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}
