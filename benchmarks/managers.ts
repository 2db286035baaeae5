// Interchange dispatch cost as managers multiply: lightweight fake managers (each one ZeroMQ socket that
// registers one worker and answers every task at once) connect over loopback; a client pushes no-op tasks
// through. Prints, per manager count, tasks/s and the interchange's own CPU time per task (flat is the goal).
// Usage: npx tsx benchmarks/managers.ts [--quick]
import { fork } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Dealer } from "zeromq";
import { startInterchange } from "../dist/executors/htex/interchange-process.js";
import { pack, unpack, PROTOCOL_VERSION } from "../dist/executors/htex/protocol.js";
import { VERSION } from "../dist/lib/version.js";

const PROCS = 4;

async function fakeManagers(url: string, first: number, count: number): Promise<void> {
  const result = v8.serialize([true, null, 0]);
  const socks: Dealer[] = [];
  for (let i = first; i < first + count; i++) {
    const s = new Dealer({ linger: 0, routingId: `fake-${i}` });
    s.connect(url);
    socks.push(s);
    await s.send(
      pack({
        t: "register",
        reg: {
          protocol: PROTOCOL_VERSION,
          node: "fake",
          manager: `fake-${i}`,
          block: String(i),
          hostname: "fake",
          workers: 1,
          prefetch: 0,
          cores: 1,
          memory: 1024,
          disk: 1024,
          gpus: [],
          nodes: [],
          pid: process.pid,
          versions: { taskloom: VERSION, node: process.version },
        },
      }),
    );
    void (async () => {
      for await (const frames of s) {
        const m = unpack(frames);
        if (m.t === "tasks")
          await s.send(pack({ t: "done", results: m.tasks.map((t) => ({ id: t.id, payload: result })) }));
      }
    })().catch(() => {});
  }
  process.send?.("ready");
}

function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

async function run(managers: number, tasks: number, dir: string): Promise<void> {
  const ix = await startInterchange(
    {
      address: "127.0.0.1",
      port: 0,
      heartbeatPeriod: 3600,
      heartbeatThreshold: 7200,
      nodeCores: undefined,
      nodeMemory: undefined,
      nodeGpus: 0,
      logLevel: "info",
    },
    path.join(dir, `interchange-${managers}.log`),
  );
  const client = new Dealer({ linger: 0 });
  client.connect(ix.clientUrl);
  const registered = new Set<string>();
  let done = 0;
  let onDone: () => void = () => {};
  const receiving = (async () => {
    for await (const frames of client) {
      const m = unpack(frames);
      if (m.t === "block" && m.event === "registered") registered.add(m.manager);
      if (m.t === "results") {
        done += m.results.length;
        if (done >= tasks) onDone();
      }
      if (registered.size === managers && m.t === "block") onDone();
    }
  })().catch(() => {});
  await client.send(pack({ t: "hello" }));
  const per = Math.ceil(managers / PROCS);
  const kids = [];
  const allRegistered = new Promise<void>((r) => (onDone = r));
  for (let p = 0; p * per < managers; p++) {
    const k = fork(
      fileURLToPath(import.meta.url),
      ["--fake", ix.workerUrl, String(p * per), String(Math.min(per, managers - p * per))],
      {
        execArgv: ["--import", "tsx"],
      },
    );
    kids.push(k);
  }
  await allRegistered;
  const payload = v8.serialize({ fn: null, args: [0] });
  const finished = new Promise<void>((r) => (onDone = r));
  const cpu0 = cpuMs(ix.proc.pid!);
  const t0 = performance.now();
  for (let i = 0; i < tasks; i += 1000) {
    await client.send(
      pack({
        t: "submit",
        tasks: Array.from({ length: Math.min(1000, tasks - i) }, (_, j) => ({ id: i + j, payload })),
      }),
    );
  }
  await finished;
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuMs(ix.proc.pid!) - cpu0;
  console.log(
    JSON.stringify({
      bench: "interchange_managers",
      managers,
      tasks,
      tasksPerSec: Math.round(tasks / s),
      interchangeCpuUsPerTask: +((cpu * 1000) / tasks).toFixed(2),
      rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    }),
  );
  for (const k of kids) k.kill("SIGKILL");
  client.close();
  ix.proc.stdin!.end();
  ix.proc.kill("SIGKILL");
  void receiving;
}

if (process.argv[2] === "--fake") {
  await fakeManagers(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
} else {
  const quick = process.argv.includes("--quick");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-managers-"));
  for (const m of [1, 10, 100, 1000]) await run(m, quick ? 20_000 : 100_000, dir);
  fs.rmSync(dir, { recursive: true, force: true });
}
