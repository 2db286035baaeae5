/**
 * Numbered run directories, as Parsl: `runinfo/000`, `runinfo/001`, …
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Numbered entries of `base`, ascending (999 before 1000); `[]` if it does not exist. */
export function numberedEntries(base: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(base);
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
}

/** Creates the next numbered directory in `base` (making `base` if needed); returns its absolute path. */
export function makeRunDir(base: string): string {
  const abs = path.resolve(base);
  fs.mkdirSync(abs, { recursive: true });
  const existing = numberedEntries(abs);
  let n = existing.length > 0 ? Number(existing[existing.length - 1]) + 1 : 0;
  for (;;) {
    const dir = path.join(abs, String(n).padStart(3, "0"));
    try {
      fs.mkdirSync(dir); // not recursive: EEXIST tells a racing process took this number
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      n++;
    }
  }
}
