// Compile-time checks of the public types: `npm run typecheck` fails if an expectation breaks.
// Each @ts-expect-error line must be an error; the other lines must compile.
import { app, shellApp, joinApp, File, type AppFuture, type DataFuture } from "taskloom";

const add = app((a: number, b: number) => a + b);
const greet = app(async (name: string) => `hi ${name}`);
const cat = shellApp(
  (opts: { inputs: File[]; outputs: File[] }) => `cat ${opts.inputs.join(" ")} > ${opts.outputs[0]!}`,
);
const both = joinApp((x: number) => [add(x, 1), add(x, 2)]);

export async function checks(): Promise<void> {
  const f: AppFuture<number> = add(1, 2);
  const g: AppFuture<number> = add(f, add(3, 4)); // futures stand in for values
  const s: AppFuture<string> = greet("x"); // async apps unwrap their promise
  const n: number = await g;
  const t: string = await s;
  const withOpts: AppFuture<number> = add(1, 2, { walltime: 5, priority: 1 }); // trailing call options
  const c: AppFuture<number> = cat({ inputs: [new File("a")], outputs: [new File("b")] });
  const out: DataFuture | undefined = c.outputs[0];
  const j: AppFuture<number[]> = both(1);
  void [f, g, s, n, t, withOpts, c, out, j];

  // @ts-expect-error a string is not a number
  add("1", 2);
  // @ts-expect-error a future of a string is not a future of a number
  add(greet("x"), 2);
  // @ts-expect-error too few arguments
  add(1);
  // @ts-expect-error the result is a number, not a string
  const wrong: AppFuture<string> = add(1, 2);
  void wrong;
}
