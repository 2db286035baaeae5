/**
 * Starting shell commands through a small bash server instead of Node.
 *
 * Node forks its whole process to spawn a child, which costs ~2.5 ms on a
 * worker and grows with the worker's memory; a bash process that forks costs
 * ~0.5 ms. So each worker keeps a bash server (one per command running at the
 * same time, made on demand) that reads commands from a pipe, runs each in a
 * subshell that is a process group of its own (`set -m`), and reports its pid
 * and, when it ends, its exit status as bash's `wait` gives it (128 + signal
 * number for a signal), the same as `bash -c` under Node.
 *
 * The subshell `eval`s the command with the server's variables unset, job
 * control off and stdin on /dev/null, so it sees what `/bin/bash -c` would; a
 * command that uses `$$` is `exec`ed as `/bin/bash -c` so that `$$` is its own
 * pid. A server is replaced when the worker's environment changes, and exits
 * when its worker does (end of its command pipe).
 *
 * After each command the server reports its `times`: the CPU of the children
 * it has waited for. A server runs one command at a time, so the growth is
 * that command's subshell and everything the subshell waited for, the way
 * `getrusage(RUSAGE_CHILDREN)` counts it (clock-tick resolution).
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as readline from "node:readline";
import type { Readable, Writable } from "node:stream";

/** A command started by a server. */
export interface Started {
  /** Its pid, which is also its process group id. */
  readonly pid: number;
  /** Resolves to its exit status (0–255; 128 + n when killed by signal n). */
  readonly exited: Promise<number>;
  /** Once `exited` resolved: CPU of the command and all it waited for, ms (undefined if bash did not say). */
  cpu: CpuTimes | undefined;
}

/** User and system CPU, ms. */
export interface CpuTimes {
  userMs: number;
  systemMs: number;
}

/** Where the command's output goes: a path (appended to), or the worker's own stream. */
export interface Redirects {
  stdout: string | undefined;
  stderr: string | undefined;
  /** stderr goes where stdout goes (one file given for both). */
  stderrToStdout: boolean;
}

// Fields arrive NUL-terminated on fd 3; events leave on fd 4 as "S id pid" and "E id status", each "E" (and the
// start) preceded by bash's two \`times\` lines, the first marked "T ", the second the children's cumulative CPU. The server's own
// stderr is /dev/null (job control would report every finished job there); commands get the real one, kept on fd 5.
// fd 6 is a lifeline nobody writes to: when the worker goes (a thread terminated, a process killed) before it
// learnt a job's process group, the watcher sees end-of-file and kills the running job's group and the server. A job
// forked just as the worker died may not have its group recorded yet: the watcher gives the loop half a second to.
const SCRIPT = `exec 5>&2 2>/dev/null
__tl_p=$(mktemp)
set -m
printf 'T ' >&4; times >&4
( read -r -u 6 __tl_x; for __tl_k in 1 2 3 4 5 6 7 8 9 10; do __tl_j=$(cat "$__tl_p" 2>/dev/null); [ -n "$__tl_j" ] && break; sleep 0.05; done; [ -n "$__tl_j" ] && kill -KILL -- -"$__tl_j"; rm -f "$__tl_p"; kill -KILL $$ ) 3<&- 4>&- &
while IFS= read -r -d '' __tl_i <&3 && IFS= read -r -d '' __tl_d <&3 && IFS= read -r -d '' __tl_o <&3 &&
  IFS= read -r -d '' __tl_e <&3 && IFS= read -r -d '' __tl_s <&3 && IFS= read -r -d '' __tl_x <&3 &&
  IFS= read -r -d '' __tl_c <&3; do
  (
    exec 2>&5 5>&-
    set +m
    if [ -n "$__tl_o" ]; then exec >>"$__tl_o"; fi
    if [ -n "$__tl_e" ]; then exec 2>>"$__tl_e"; elif [ -n "$__tl_s" ]; then exec 2>&1; fi
    exec </dev/null 3<&- 4>&- 6<&-
    cd -- "$__tl_d" || exit 127
    if [ -n "$__tl_x" ]; then exec /bin/bash -c "$__tl_c"; fi
    eval "unset __tl_i __tl_d __tl_o __tl_e __tl_s __tl_x __tl_c __tl_p __tl_r; $__tl_c"
  ) 6<&- &
  echo $! > "$__tl_p"
  echo "S $__tl_i $!" >&4
  wait $!
  __tl_r=$?
  : > "$__tl_p"
  printf 'T ' >&4; times >&4
  echo "E $__tl_i $__tl_r" >&4
done
rm -f "$__tl_p"
`;

interface Pending {
  onStart(pid: number): void;
  onExit(status: number, cpu: CpuTimes | undefined): void;
  onFail(e: Error): void;
}

class Server {
  readonly proc: ChildProcess;
  readonly env: string;
  busy = false;
  dead = false;
  readonly #pending = new Map<string, Pending>();
  readonly #in: Writable;

  constructor(env: string) {
    this.env = env;
    this.proc = spawn("/bin/bash", ["-c", SCRIPT, "/bin/bash"], {
      stdio: ["ignore", "inherit", "inherit", "pipe", "pipe", "ignore", "pipe"],
      env: process.env,
    });
    this.#in = this.proc.stdio[3] as Writable;
    this.#in.on("error", () => {});
    const lifeline = (this.proc.stdio as unknown as Writable[])[6]!;
    lifeline.on("error", () => {});
    (lifeline as unknown as { unref?(): void }).unref?.();
    // A server must not keep its worker alive.
    this.proc.unref();
    (this.proc.stdio[3] as unknown as { unref?(): void }).unref?.();
    const events = this.proc.stdio[4] as Readable;
    (events as unknown as { unref?(): void }).unref?.();
    let timesNext = false;
    let children: CpuTimes | undefined;
    let before: CpuTimes | undefined;
    readline.createInterface({ input: events }).on("line", (line) => {
      if (timesNext) {
        timesNext = false;
        before = children;
        children = parseTimes(line);
        return;
      }
      if (line.startsWith("T ")) {
        timesNext = true;
        return;
      }
      const [kind, id, n] = line.split(" ");
      const p = this.#pending.get(id!);
      if (p === undefined) return;
      if (kind === "S") p.onStart(Number(n));
      else {
        this.#pending.delete(id!);
        this.busy = false;
        const cpu =
          children && before
            ? { userMs: children.userMs - before.userMs, systemMs: children.systemMs - before.systemMs }
            : undefined;
        p.onExit(Number(n), cpu);
      }
    });
    const died = (why: string): void => {
      this.dead = true;
      const err = new Error(`the shell server died (${why})`);
      for (const p of this.#pending.values()) p.onFail(err);
      this.#pending.clear();
    };
    this.proc.on("exit", (code, signal) => died(signal ?? `code ${code}`));
    this.proc.on("error", (e) => died(e.message));
  }

  run(id: string, command: string, r: Redirects, p: Pending): void {
    this.busy = true;
    this.#pending.set(id, p);
    const exec = /\$\$|\$\{\$\}/.test(command) ? "1" : "";
    const fields = [id, process.cwd(), r.stdout ?? "", r.stderr ?? "", r.stderrToStdout ? "1" : "", exec, command];
    this.#in.write(fields.join("\0") + "\0");
  }
}

// bash prints \`times\` as "1m2.345s 0m0.010s" (the decimal point is the locale's).
const TIME = /(\d+)m(\d+)[.,]?(\d*)s/g;

function parseTimes(line: string): CpuTimes | undefined {
  const ms = [...line.matchAll(TIME)].map(
    ([, m, s, frac]) => Number(m) * 60_000 + Number(s) * 1000 + Number(`0.${frac || "0"}`) * 1000,
  );
  return ms.length === 2 ? { userMs: ms[0]!, systemMs: ms[1]! } : undefined;
}

const servers: Server[] = [];
let nextId = 0;

/**
 * Starts `command` on an idle server (making one if none is idle, or if the
 * environment changed since). Rejects if the server cannot run it.
 * @throws RangeError - a NUL byte in the command, the cwd or a path (bash cannot carry one).
 */
export function startCommand(command: string, r: Redirects): Promise<Started> {
  for (const s of [command, process.cwd(), r.stdout ?? "", r.stderr ?? ""]) {
    if (s.includes("\0")) throw new RangeError("a NUL byte cannot be passed to bash");
  }
  const env = JSON.stringify(process.env);
  for (let i = servers.length - 1; i >= 0; i--) {
    const s = servers[i]!;
    if (s.dead || (!s.busy && s.env !== env)) {
      servers.splice(i, 1);
      if (!s.dead) s.proc.kill("SIGKILL");
    }
  }
  let server = servers.find((s) => !s.busy);
  if (server === undefined) {
    server = new Server(env);
    servers.push(server);
  }
  const srv = server;
  return new Promise<Started>((resolve, reject) => {
    let exit: (n: number) => void = () => {};
    let fail: (e: Error) => void = () => {};
    const exited = new Promise<number>((res, rej) => {
      exit = res;
      fail = rej;
    });
    let started: { pid: number; exited: Promise<number>; cpu: CpuTimes | undefined } | undefined;
    srv.run(String(nextId++), command, r, {
      onStart: (pid) => {
        started = { pid, exited, cpu: undefined };
        resolve(started);
      },
      onExit: (n, cpu) => {
        if (started) started.cpu = cpu;
        exit(n);
      },
      onFail: (e) => (started ? fail(e) : reject(e)),
    });
  });
}
