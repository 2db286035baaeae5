// What the provider suites share: a started provider in a fresh run dir, waiting for a job state, and a runner that
// counts the scheduler commands it ran (to check one poll covers every block).
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalRunner, type CommandRunner, type JobStatus, type Provider } from "taskloom";
import { nullLogger } from "../../lib/logging.js";

/** Makes providers started in `<dir>/run0`, `run1`, …; `.lastRunDir()` is the newest one's. */
export function providerMaker<P extends Provider, O>(
  dir: string,
  make: (options: O) => P,
): ((options?: O) => Promise<P>) & { lastRunDir: () => string } {
  let n = 0;
  const started = async (options = {} as O): Promise<P> => {
    const p = make(options);
    await p.start({ runDir: path.join(dir, `run${n++}`), logger: nullLogger });
    return p;
  };
  return Object.assign(started, { lastRunDir: () => path.join(dir, `run${n - 1}`) });
}

/** Polls `p.status([id])` until `ok` holds (scheduler state has no event to await); gives up after 30 s. */
export async function settle(p: Provider, id: string, ok: (s: JobStatus) => boolean): Promise<JobStatus> {
  let last: JobStatus | undefined;
  for (let i = 0; i < 300; i++) {
    [last] = await p.status([id]);
    if (ok(last!)) return last!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} never reached the state wanted; last: ${JSON.stringify(last)}`);
}

/** Runs real commands here and remembers them. */
export class CountingRunner implements CommandRunner {
  readonly label = "counting";
  readonly calls: string[][] = [];
  readonly #inner = new LocalRunner();
  run(argv: readonly string[], o: Parameters<CommandRunner["run"]>[1]): ReturnType<CommandRunner["run"]> {
    this.calls.push([...argv]);
    return this.#inner.run(argv, o);
  }
}

/** Submits a block that writes to stderr and exits 3; checks it fails with that exit code and stderr's tail. */
export async function expectFailedBlock(p: Provider, jobName: string): Promise<JobStatus> {
  const id = await p.submit("echo 'worker-pool: no such module' >&2; exit 3", 1, jobName);
  const st = await settle(p, id, (s) => s.state === "failed" || s.state === "completed");
  expect(st).to.include({ state: "failed", exitCode: 3 });
  expect(st.message).to.match(/exit code 3; stderr: worker-pool: no such module/);
  expect(fs.readFileSync(st.stderrPath!, "utf8")).to.contain("no such module");
  return st;
}

/** Waits until SLURM lists job `id` in state `code` (e.g. `CA`); returns the last state seen. */
export async function slurmState(id: string, code: string): Promise<string> {
  let state = "";
  for (let i = 0; i < 50 && state !== code; i++) {
    const r = await new LocalRunner().run(["squeue", "-h", "-t", "all", "-j", id, "-o", "%t"], { timeoutMs: 20_000 });
    state = r.stdout.trim();
    if (state !== code) await new Promise((r) => setTimeout(r, 100));
  }
  return state;
}
