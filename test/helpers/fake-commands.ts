// Fake scheduler commands on PATH for schedulers that cannot be installed here (HTCondor, PBS Pro, LSF).
// Each fake is a bash script that logs its argv and stdin, then replays the answer the test set for it:
// captured output of the real command (test/fixtures/<scheduler>/…), an exit code, or a hang (for timeouts).
import * as fs from "node:fs";
import * as path from "node:path";
import { tmpDir } from "./tmp.js";

/** What one fake command answers. */
export interface FakeResponse {
  stdout?: string;
  stderr?: string;
  code?: number;
  /** Seconds to sleep before answering (to test command timeouts). */
  hang?: number;
}

/** One recorded call. */
export interface FakeCall {
  argv: string[];
  stdin: string;
}

/** A directory of fake commands put first on PATH. */
export class FakeCommands {
  readonly bin: string;
  #oldPath: string | undefined;

  constructor(
    dir: string,
    readonly names: readonly string[],
  ) {
    this.bin = path.join(dir, "fake-bin");
    fs.mkdirSync(this.bin, { recursive: true });
    for (const name of names) {
      // One JSON line per call (python3 is on every machine here; jq may not be). Answer files are numbered by
      // call; `.last` answers every call past them.
      fs.writeFileSync(
        path.join(this.bin, name),
        `#!/bin/bash
d=${JSON.stringify(this.bin)}/.${name}
stdin=""; if [ ! -t 0 ]; then stdin=$(cat; echo x); stdin=\${stdin%x}; fi
STDIN="$stdin" python3 -c 'import json,os,sys; print(json.dumps({"argv": [os.path.basename(sys.argv[1])] + sys.argv[2:], "stdin": os.environ["STDIN"]}))' "$0" "$@" >> "$d.calls"
n=$(cat "$d.n" 2>/dev/null || echo 0); echo $((n+1)) > "$d.n"
r="$d.$n"; [ -e "$r.code" ] || r="$d.last"
[ -e "$r.hang" ] && sleep "$(cat "$r.hang")"
[ -e "$r.stdout" ] && cat "$r.stdout"
[ -e "$r.stderr" ] && cat "$r.stderr" >&2
exit "$(cat "$r.code" 2>/dev/null || echo 0)"
`,
        { mode: 0o755 },
      );
    }
  }

  /** Puts the fakes first on PATH (undone by {@link uninstall}). */
  install(): this {
    this.#oldPath = process.env.PATH;
    process.env.PATH = `${this.bin}:${process.env.PATH ?? ""}`;
    return this;
  }

  uninstall(): void {
    if (this.#oldPath !== undefined) process.env.PATH = this.#oldPath;
  }

  /** Sets the answers to the next calls of `name`, in order; the last one repeats for later calls. */
  respond(name: string, ...answers: FakeResponse[]): void {
    if (!this.names.includes(name)) throw new Error(`no fake command ${name}`);
    const base = path.join(this.bin, `.${name}`);
    for (const f of fs.readdirSync(this.bin)) {
      if (f.startsWith(`.${name}.`) && /\.\d+\.\w+$/.test(f)) fs.rmSync(path.join(this.bin, f));
    }
    const n = Number(fs.existsSync(`${base}.n`) ? fs.readFileSync(`${base}.n`, "utf8") : 0);
    answers.forEach((a, i) => this.#write(`${base}.${n + i}`, a));
    this.#write(`${base}.last`, answers[answers.length - 1] ?? {});
  }

  #write(base: string, a: FakeResponse): void {
    for (const ext of ["stdout", "stderr", "hang"] as const) fs.rmSync(`${base}.${ext}`, { force: true });
    if (a.stdout !== undefined) fs.writeFileSync(`${base}.stdout`, a.stdout);
    if (a.stderr !== undefined) fs.writeFileSync(`${base}.stderr`, a.stderr);
    if (a.hang !== undefined) fs.writeFileSync(`${base}.hang`, String(a.hang));
    fs.writeFileSync(`${base}.code`, String(a.code ?? 0));
  }

  /** Calls so far of `name` (or of every fake, grouped by command), in order. */
  calls(name?: string): FakeCall[] {
    const out: FakeCall[] = [];
    for (const n of name === undefined ? this.names : [name]) {
      const f = path.join(this.bin, `.${n}.calls`);
      if (!fs.existsSync(f)) continue;
      for (const line of fs.readFileSync(f, "utf8").split("\n")) if (line) out.push(JSON.parse(line) as FakeCall);
    }
    return out;
  }
}

/** A captured output of a real scheduler command, from test/fixtures/<scheduler>/<name>. */
export function fixture(scheduler: string, name: string): string {
  return fs.readFileSync(path.join(import.meta.dirname, "..", "fixtures", scheduler, name), "utf8");
}

/** In a describe block: fake `names` on PATH in a temp dir for the block's tests, removed after. */
export function fakeScheduler(names: readonly string[]): { dir: string; fake: FakeCommands } {
  const tmp = tmpDir();
  const fake = new FakeCommands(tmp.dir, names);
  before(() => fake.install());
  after(() => {
    fake.uninstall();
    tmp.remove();
  });
  return { dir: tmp.dir, fake };
}
