/**
 * Temporary files (`new File(p, { temporary: true })`, TaskVine's
 * `unlink_when_done`): deleted once every task submitted so far that reads
 * one has finished, and the task that makes it too; one no task read is
 * deleted at cleanup.
 * @module
 */
import * as fs from "node:fs";
import { File } from "../file.js";
import { DataFuture } from "../future.js";

const MAX_DEPTH = 32;

interface Hold {
  file: File;
  readers: number;
  makers: number;
  /** A reader has finished with it. */
  read: boolean;
}

/** The kernel's count of who still needs each temporary file. */
export class TemporaryFiles {
  readonly #held = new Map<string, Hold>();

  /** Records the temporary files a task reads (`args`) and makes (`outputs`); returns what to call when it ends. */
  hold(args: readonly unknown[], outputs: readonly File[]): (() => void) | undefined {
    const made = outputs.filter((f) => f.temporary);
    const read = new Map<string, File>();
    collect(args, read, 0);
    for (const f of made) read.delete(f.path);
    if (made.length === 0 && read.size === 0) return undefined;
    const entry = (f: File): Hold => {
      let h = this.#held.get(f.path);
      if (h === undefined) this.#held.set(f.path, (h = { file: f, readers: 0, makers: 0, read: false }));
      return h;
    };
    for (const f of made) entry(f).makers++;
    for (const f of read.values()) entry(f).readers++;
    return () => {
      for (const f of made) this.#drop(f.path, (h) => h.makers--);
      for (const f of read.values()) {
        this.#drop(f.path, (h) => {
          h.readers--;
          h.read = true;
        });
      }
    };
  }

  #drop(p: string, change: (h: Hold) => void): void {
    const h = this.#held.get(p);
    if (h === undefined) return;
    change(h);
    if (h.readers === 0 && h.makers === 0 && h.read) this.#delete(h);
  }

  #delete(h: Hold): void {
    this.#held.delete(h.file.path);
    fs.rmSync(h.file.path, { force: true, recursive: true });
  }

  /** At cleanup: every temporary file no task is making any more goes. */
  deleteRest(): void {
    for (const h of [...this.#held.values()]) if (h.makers === 0) this.#delete(h);
  }
}

function collect(v: unknown, into: Map<string, File>, depth: number): void {
  if (typeof v !== "object" || v === null || depth > MAX_DEPTH) return;
  if (v instanceof DataFuture) return collect(v.file, into, depth);
  if (v instanceof File) {
    if (v.temporary) into.set(v.path, v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, into, depth + 1);
  else {
    const p: unknown = Object.getPrototypeOf(v);
    if (p === Object.prototype || p === null)
      for (const k in v) collect((v as Record<string, unknown>)[k], into, depth + 1);
  }
}
