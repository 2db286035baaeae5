/**
 * This package's version, read from its package.json (the same file in a
 * source checkout and in `dist/`'s parent), for handshakes between parts that
 * must run the same code.
 * @module
 */
import { readFileSync } from "node:fs";

function find(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "taskloom" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here; try the next level
    }
  }
  return "unknown";
}

/** The taskloom version, e.g. `"0.1.0"`. */
export const VERSION = find();
