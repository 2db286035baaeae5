import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { load, ThreadPoolExecutor } from "taskloom";
import { noop } from "./apps.js";
const mon = process.argv[2] === "on";
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "prof-"));
const k = await load({
  executors: [new ThreadPoolExecutor({ maxThreads: 2 })],
  runDir,
  monitoring: mon ? {} : false,
  initializeLogging: false,
});
await Promise.all(Array.from({ length: 5000 }, (_, i) => noop(i)));
const t0 = performance.now();
for (let r = 0; r < 8; r++) {
  for (let i = 0; i < 50000; i++) noop(i);
  await k.waitForCurrentTasks();
}
const el = performance.now() - t0;
console.log(JSON.stringify({ mon, tasksPerSec: Math.round((400000 / el) * 1000) }));
process.exit(0);
