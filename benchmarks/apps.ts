// Apps the benchmarks run; a module of its own so worker threads import nothing else.
import { app, shellApp } from "taskloom";

export const noop = app((x: number) => x);
export const inc = app((x: number) => x + 1);
export const gather = app((...xs: number[]) => xs.length);
export const size = app((b: Uint8Array) => b.byteLength);
export const shTrue = shellApp(() => "true");
export const echoHi = shellApp((_opts?: { stdout: string }) => "echo hi");
export const sleepMs = app(async (ms: number) => {
  await new Promise((r) => setTimeout(r, ms));
  return ms;
});
