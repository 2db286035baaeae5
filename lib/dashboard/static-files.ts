/**
 * The dashboard page's files: found next to this module when it runs from
 * source (`lib/dashboard/static/`), and from `dist/lib/dashboard/` through the
 * copy the package ships under `lib/`, so no build step copies them.
 * Only regular files inside that folder are ever read.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../errors.js";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
};

/**
 * The folder holding `index.html`: `./static` beside this module (running
 * from source), else `lib/dashboard/static` of the package (running from `dist/`).
 * @throws ConfigError naming both places when neither has the page.
 */
export function staticDir(moduleUrl: string = import.meta.url): string {
  const here = path.dirname(fileURLToPath(moduleUrl));
  const candidates = [path.join(here, "static"), path.resolve(here, "../../../lib/dashboard/static")];
  for (const dir of candidates) if (fs.existsSync(path.join(dir, "index.html"))) return dir;
  throw new ConfigError(`the dashboard's page is missing: no index.html in ${candidates.join(" nor ")}`);
}

/** A file to send, or undefined when the path names nothing servable. */
export interface StaticFile {
  body: Buffer;
  contentType: string;
}

/**
 * Reads `rel` (URL-decoded, `/`-separated, relative to `dir`). Refuses, as
 * undefined, anything that is not a regular file inside `dir` once resolved:
 * `..` segments, absolute paths, NUL bytes, directories, symlinks out of it,
 * and file types without a known content type.
 */
export function readStatic(dir: string, rel: string): StaticFile | undefined {
  if (rel.includes("\0") || rel.includes("\\")) return undefined;
  const parts = rel.split("/");
  if (parts.some((p) => p === ".." || p === ".")) return undefined;
  const file = path.resolve(dir, ...parts.filter((p) => p !== ""));
  if (!file.startsWith(dir + path.sep)) return undefined;
  const contentType = CONTENT_TYPES[path.extname(file).toLowerCase()];
  if (contentType === undefined) return undefined;
  try {
    const real = fs.realpathSync(file);
    if (!real.startsWith(fs.realpathSync(dir) + path.sep) || !fs.statSync(real).isFile()) return undefined;
    return { body: fs.readFileSync(real), contentType };
  } catch {
    return undefined;
  }
}
