/**
 * A file a task reads or writes, named by a URL or a local path.
 *
 * @example
 * ```ts
 * const f = new File("https://example.org/data.csv");
 * f.scheme;   // "https"
 * f.filename; // "data.csv"
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import * as nodePath from "node:path";
import { ConfigError } from "./errors.js";

/** URL schemes a {@link File} may have. */
export type FileScheme = "file" | "http" | "https" | "ftp";
const SCHEMES: ReadonlySet<string> = new Set(["file", "http", "https", "ftp"]);

/** Marker that lets a File survive a structured clone to a worker and back. */
export const FILE_TYPE_TAG = "taskloom.File";

const FILE_BRAND = Symbol.for("taskloom.File");

/** A file, local or remote; `toString()` gives the local path a task should use. */
export class File {
  /** The URL or path as given. */
  readonly url: string;
  /** `file`, `http`, `https` or `ftp`. */
  readonly scheme: FileScheme;
  /** Host (and port) for remote files, `""` for local ones. */
  readonly netloc: string;
  /** Path part of the URL (absolute for `file:` URLs, as given for plain paths). */
  readonly path: string;
  /** Last path component. */
  readonly filename: string;
  /** Where the file is on the executing side after staging, if staged. */
  localPath: string | undefined;
  /** @internal lets clones be recognised in workers. */
  readonly "@type" = FILE_TYPE_TAG;

  constructor(urlOrPath: string | URL) {
    const s = urlOrPath instanceof URL ? urlOrPath.href : urlOrPath;
    if (typeof s !== "string" || s.length === 0) {
      throw new ConfigError(`File(url): expected a non-empty string or URL, got ${describe(urlOrPath)}`);
    }
    this.url = s;
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
    if (m && m[1]!.length > 1) {
      const scheme = m[1]!.toLowerCase();
      if (!SCHEMES.has(scheme)) {
        throw new ConfigError(
          `File(${JSON.stringify(s)}): unsupported scheme "${scheme}"; allowed: file, http, https, ftp`,
        );
      }
      const u = new URL(s);
      this.scheme = scheme as FileScheme;
      this.netloc = u.host;
      this.path = scheme === "file" ? fileURLToPath(u) : decodeURIComponent(u.pathname);
    } else {
      this.scheme = "file";
      this.netloc = "";
      this.path = s;
    }
    this.filename = nodePath.posix.basename(this.path);
    this.localPath = undefined;
  }

  /** The local path to use: `localPath` if staged, else `path` for local files. */
  get filepath(): string {
    if (this.localPath !== undefined) return this.localPath;
    if (this.scheme === "file") return this.path;
    throw new ConfigError(`File ${this.url} has no local path yet: ${this.scheme} files get one when staged in`);
  }

  /** A copy without staging state. */
  cleancopy(): File {
    return new File(this.url);
  }

  toString(): string {
    return this.filepath;
  }

  toJSON(): { url: string; localPath?: string } {
    return this.localPath === undefined ? { url: this.url } : { url: this.url, localPath: this.localPath };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `File(${this.url}${this.localPath !== undefined ? ` -> ${this.localPath}` : ""})`;
  }

  /** Rebuilds a File from its structured-clone copy (as a worker receives it). */
  static revive(o: { url: string; localPath?: string | undefined }): File {
    const f = new File(o.url);
    f.localPath = o.localPath;
    return f;
  }

  // Any copy of taskloom (a worker may load two) makes Files that pass `instanceof File`.
  static [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && FILE_BRAND in v;
  }

  /** True for a File or its structured-clone copy. */
  static isFileLike(v: unknown): v is { url: string; localPath?: string } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)["@type"] === FILE_TYPE_TAG;
  }
}

function describe(v: unknown): string {
  return `${JSON.stringify(v) ?? String(v)} (${v === null ? "null" : typeof v})`;
}

Object.defineProperty(File.prototype, FILE_BRAND, { value: true });
