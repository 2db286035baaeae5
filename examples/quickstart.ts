// The README's quick start: apps, futures as arguments, a shell app with files, a join app.
// Run with `npx tsx examples/quickstart.ts` (or `npx taskloom run examples/quickstart.ts`).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { load, app, shellApp, joinApp, File, isWorker, type AppFuture } from "taskloom";

// Apps live at the top level so worker threads, which import this module, find them.
export const add = app((a: number, b: number) => a + b);
export const square = app((x: number) => x * x);
export const cat = shellApp(
  (opts: { inputs: File[]; outputs: File[] }) => `cat ${opts.inputs.join(" ")} > ${opts.outputs[0]!}`,
);
export const sumOfSquares = joinApp((n: number): AppFuture<number>[] =>
  Array.from({ length: n }, (_, i) => square(i + 1)),
);

// Workers import this module too: the workflow itself runs only in the main thread.
if (!isWorker()) {
  const dfk = await load(); // embedded default: a thread pool sized to this machine
  const six = add(1, add(2, 3)); // futures as arguments are dependencies
  console.log("1 + (2 + 3) =", await six);

  const squares = await sumOfSquares(10);
  console.log(
    "squares of 1..10:",
    squares.join(" "),
    "sum:",
    squares.reduce((a, b) => a + b, 0),
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "taskloom-quickstart-"));
  fs.writeFileSync(path.join(dir, "a.txt"), "hello\n");
  fs.writeFileSync(path.join(dir, "b.txt"), "world\n");
  const joined = cat({
    inputs: [new File(path.join(dir, "a.txt")), new File(path.join(dir, "b.txt"))],
    outputs: [new File(path.join(dir, "all.txt"))],
  });
  const out = await joined.outputs[0]!; // DataFuture<File>
  console.log(`cat wrote ${out.filepath}:`, JSON.stringify(fs.readFileSync(out.filepath, "utf8")));
  fs.rmSync(dir, { recursive: true, force: true });

  console.log(
    "task states:",
    JSON.stringify(Object.fromEntries(Object.entries(dfk.taskStateCounts()).filter(([, n]) => n > 0))),
  );
  console.log("run directory:", dfk.runDir);
  await dfk.cleanup();
}
