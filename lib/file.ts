/**
 * A file a task reads or writes, named by a URL or a local path. Remote
 * files (`http`, `https`, `ftp`) are staged in before a task that takes them
 * and staged out after a task that lists them in `outputs`; the task sees a
 * copy whose `filepath` is the local path. A File never changes once made.
 *
 * @example
 * ```ts
 * const f = new File("https://example.org/data.csv", { checksum: "sha256:9f86…" });
 * f.scheme;   // "https"
 * f.filename; // "data.csv"
 * const tmp = new File("parts/chunk-1.bin", { temporary: true }); // deleted once no task needs it
 * ```
 * @module
 */
import { fileURLToPath } from "node:url";
import * as nodePath from "node:path";
import { ConfigError, StagingError } from "./errors.js";

/** URL schemes a {@link File} may have. */
export type FileScheme = "file" | "http" | "https" | "ftp";
const SCHEMES: ReadonlySet<string> = new Set(["file", "http", "https", "ftp"]);

/** Marker that lets a File survive a structured clone to a worker and back. */
export const FILE_TYPE_TAG = "taskloom.File";

const FILE_BRAND = Symbol.for("taskloom.File");
// Set only inside File.revive, so a frozen File can be made with its local path.
const LOCAL: { path: string | undefined } = { path: undefined };
// Whether this process has made a remote or a temporary File: until then the kernel skips looking for them.
const SEEN = { remote: false, temporary: false };

/** @internal has this process made a remote File? */
export function anyRemoteFile(): boolean {
  return SEEN.remote;
}

/** @internal has this process made a temporary File? */
export function anyTemporaryFile(): boolean {
  return SEEN.temporary;
}

/** Options of a {@link File}. */
export interface FileOptions {
  /**
   * Delete the file once every task submitted so far that takes it has finished (and the task that makes it, if
   * any), as TaskVine's `unlink_when_done`; local files only. @default false
   */
  temporary?: boolean;
  /** `sha256:<hex>` or `md5:<hex>`: a staged-in copy must hash to this, else the task fails with StagingError. */
  checksum?: string;
}

/** What of a File crosses to a worker. */
export interface FileJSON {
  url: string;
  localPath?: string;
  temporary?: boolean;
  checksum?: string;
}

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
  /** Where the file is on the executing side after staging, if staged (set on the task's copy, never here). */
  readonly localPath: string | undefined;
  /** Deleted once no task needs it. */
  readonly temporary: boolean;
  /** `sha256:<hex>` / `md5:<hex>` a staged-in copy must match. */
  readonly checksum: string | undefined;
  /** @internal lets clones be recognised in workers. */
  readonly "@type" = FILE_TYPE_TAG;

  constructor(urlOrPath: string | URL, options: FileOptions = {}) {
    const s = urlOrPath instanceof URL ? urlOrPath.href : urlOrPath;
    if (typeof s !== "string" || s.length === 0) {
      throw new ConfigError(`File(url): expected a non-empty string or URL, got ${describe(urlOrPath)}`);
    }
    this.url = s;
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
    if (m && m[1]!.length > 1) {
      const scheme = m[1]!.toLowerCase();
      if (!SCHEMES.has(scheme)) {
        throw new StagingError(
          `File(${JSON.stringify(s)}): unsupported scheme "${scheme}"; allowed: file, http, https, ftp (or a plain path)`,
          { url: s },
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
    this.localPath = LOCAL.path;
    const o: unknown = options;
    if (typeof o !== "object" || o === null) {
      throw new ConfigError(`File(${JSON.stringify(s)}, options): expected an object, got ${describe(o)}`);
    }
    for (const k of Object.keys(o)) {
      if (k !== "temporary" && k !== "checksum") {
        throw new ConfigError(
          `File(${JSON.stringify(s)}, options): unknown option "${k}"; allowed: temporary, checksum`,
        );
      }
    }
    if (options.temporary !== undefined && typeof options.temporary !== "boolean") {
      throw new ConfigError(
        `File(${JSON.stringify(s)}) options.temporary: expected true or false, got ${describe(options.temporary)}`,
      );
    }
    if (options.temporary && this.scheme !== "file") {
      throw new ConfigError(`File(${JSON.stringify(s)}) options.temporary: only local files can be temporary`);
    }
    const c = options.checksum;
    if (c !== undefined && !(typeof c === "string" && /^(sha256:[0-9a-fA-F]{64}|md5:[0-9a-fA-F]{32})$/.test(c))) {
      throw new ConfigError(
        `File(${JSON.stringify(s)}) options.checksum: expected "sha256:<64 hex digits>" or "md5:<32 hex digits>", got ${describe(c)}`,
      );
    }
    this.temporary = options.temporary ?? false;
    this.checksum = c?.toLowerCase();
    if (this.scheme !== "file") SEEN.remote = true;
    if (this.temporary) SEEN.temporary = true;
    Object.freeze(this);
  }

  /** True for `http`, `https` and `ftp` files (staged in and out); false for local ones. */
  get remote(): boolean {
    return this.scheme !== "file";
  }

  /** The local path to use: `localPath` if staged, else `path` for local files. */
  get filepath(): string {
    if (this.localPath !== undefined) return this.localPath;
    if (this.scheme === "file") return this.path;
    throw new ConfigError(`File ${this.url} has no local path yet: ${this.scheme} files get one when staged in`);
  }

  /** A copy without staging state. */
  cleancopy(): File {
    return new File(this.url, this.#options());
  }

  #options(): FileOptions {
    const o: FileOptions = {};
    if (this.temporary) o.temporary = true;
    if (this.checksum !== undefined) o.checksum = this.checksum;
    return o;
  }

  /** A copy staged at `localPath` (what a task sees; this File stays as it is). */
  stagedAt(localPath: string): File {
    return File.revive({ ...this.toJSON(), localPath });
  }

  toString(): string {
    return this.filepath;
  }

  toJSON(): FileJSON {
    const j: FileJSON = { url: this.url, ...this.#options() };
    if (this.localPath !== undefined) j.localPath = this.localPath;
    return j;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `File(${this.url}${this.localPath !== undefined ? ` -> ${this.localPath}` : ""})`;
  }

  /** Rebuilds a File from its structured-clone copy (as a worker receives it). */
  static revive(o: FileJSON): File {
    const opts: FileOptions = {};
    if (o.temporary) opts.temporary = true;
    if (o.checksum !== undefined) opts.checksum = o.checksum;
    if (o.localPath === undefined) return new File(o.url, opts);
    // The only way a File gets a local path: made, then frozen, with it.
    LOCAL.path = o.localPath;
    try {
      return new File(o.url, opts);
    } finally {
      LOCAL.path = undefined;
    }
  }

  // Any copy of taskloom (a worker may load two) makes Files that pass `instanceof File`.
  static [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === "object" && v !== null && FILE_BRAND in v;
  }

  /** True for a File or its structured-clone copy. */
  static isFileLike(v: unknown): v is FileJSON {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)["@type"] === FILE_TYPE_TAG;
  }
}

function describe(v: unknown): string {
  return `${JSON.stringify(v) ?? String(v)} (${v === null ? "null" : typeof v})`;
}

Object.defineProperty(File.prototype, FILE_BRAND, { value: true });
