/**
 * What every transfer protocol shares: checksums computed while the bytes
 * stream, a download that lands under a temporary name and is renamed only
 * when whole, retries with exponential backoff, and URLs without passwords in
 * messages.
 * @module
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Transform, Writable, type TransformCallback } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError, StagingError, type StagingErrorDetails } from "../errors.js";

/** Options every transfer takes. */
export interface TransferOptions {
  /** Retries after the first attempt for transient failures (default 3). */
  retries?: number;
  /** First backoff in ms; doubles each retry, with jitter (default 500). */
  backoffMs?: number;
  /** Upper bound of one backoff in ms (default 30 000). */
  maxBackoffMs?: number;
  /** Stops the transfer; the promise rejects with a StagingError whose cause is the signal's reason. */
  signal?: AbortSignal;
}

/** Options every download takes. */
export interface DownloadOptions extends TransferOptions {
  /** `sha256:<hex>` or `md5:<hex>`: the bytes must hash to this, or the download fails and leaves no file. */
  checksum?: string;
  /**
   * Compute the sha256 of the bytes while they stream and report it as
   * {@link DownloadResult.sha256} (default false). Off by default because on
   * a fast link hashing costs about as much CPU as the rest of the download;
   * a `sha256:` {@link checksum} computes (and reports) it anyway.
   */
  digest?: boolean;
  /**
   * Write each batch with a blocking write on this thread instead of the thread pool, as curl does: about 1.5×
   * faster on a fast link (the socket, the hashing and the disk then take turns on one thread), but this thread's
   * timers wait while the disk works. Staging on workers uses it (a worker runs one task's staging at a time);
   * leave it off on a thread that must stay responsive. @default false
   */
  syncWrites?: boolean;
  /**
   * Revalidate a copy the caller already has: the entity tag it came with.
   * HTTP sends it as `If-None-Match`; FTP has no entity tags and ignores it.
   */
  ifNoneMatch?: string;
  /**
   * Revalidate a copy the caller already has: when it was last modified on
   * the server. HTTP sends it as `If-Modified-Since`; FTP compares it with
   * the file's MDTM time (whole seconds) and skips the transfer when the
   * server's file is not newer. A server that cannot tell sends the file.
   */
  ifModifiedSince?: Date;
}

/** What a finished download tells. */
export interface DownloadResult {
  /** The destination path (the file is complete there). */
  path: string;
  /** Bytes received; 0 when {@link notModified}. */
  bytes: number;
  /** The URL the bytes came from, after redirects, without password. */
  url: string;
  attempts: number;
  /**
   * Hex sha256 of the bytes, present only when computed: with
   * `digest: true` or a `sha256:` checksum, and never when {@link notModified}.
   */
  sha256?: string;
  /** Server's ETag, if it sent one (HTTP; on a 304 too). */
  etag?: string;
  /** Server's modification time, if it told (HTTP Last-Modified, FTP MDTM). */
  lastModified?: Date;
  /**
   * True when a conditional download (`ifNoneMatch` / `ifModifiedSince`)
   * found the caller's copy current (HTTP 304 Not Modified, or an FTP file not
   * newer than `ifModifiedSince`): nothing was transferred, `dest` was not
   * touched (and need not exist), and `bytes` is 0. Absent otherwise.
   */
  notModified?: true;
}

/** What a finished upload tells. */
export interface UploadResult {
  url: string;
  bytes: number;
  attempts: number;
  /** HTTP status or FTP reply code of the final answer. */
  status: number;
  /** Hex sha256 of the bytes sent, computed while sending. */
  sha256: string;
}

type Algo = "sha256" | "md5";

/** A parsed `algo:hex` checksum. */
export interface Checksum {
  algo: Algo;
  hex: string;
}

/** Parses `sha256:<hex>` / `md5:<hex>`; a malformed one is a ConfigError, before any byte moves. */
export function parseChecksum(spec: string | undefined): Checksum | undefined {
  if (spec === undefined) return undefined;
  const m = /^(sha256|md5):([0-9a-fA-F]+)$/.exec(spec);
  const len = m?.[1] === "sha256" ? 64 : 32;
  if (!m || m[2]!.length !== len) {
    throw new ConfigError(
      `checksum: expected "sha256:<64 hex digits>" or "md5:<32 hex digits>", got ${JSON.stringify(spec)}`,
    );
  }
  return { algo: m[1] as Algo, hex: m[2]!.toLowerCase() };
}

/** The upload side: a pass-through that counts and sha256-hashes what flows, so nothing has to be read twice. */
export class Meter extends Transform {
  bytes = 0;
  readonly #sha256: Hash = createHash("sha256");
  readonly #onChunk: (() => void) | undefined;

  constructor(onChunk?: () => void) {
    super();
    this.#onChunk = onChunk;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.#sha256.update(chunk);
    this.#onChunk?.();
    cb(null, chunk);
  }

  /** Hex sha256; call once, after the stream ended. */
  sha256(): string {
    return this.#sha256.digest("hex");
  }
}

/**
 * Smallest write the sink issues while more bytes are coming. Socket reads
 * are 64 KiB; one write(2) per read costs a thread-pool round trip each
 * and that write traffic costs about as much CPU as receiving. Bigger
 * batches cut the round trips, but past ~256 KiB the bytes have left the CPU
 * cache by the time the pool thread copies them. 128 KiB did best in a sweep
 * on loopback, though only by about the run-to-run noise of a 2-core VM.
 */
const BATCH = 128 * 1024;

/**
 * The download side of a transfer: a Writable that puts the bytes in a new
 * file (`path`, truncated) in writes of at least {@link BATCH} bytes, counting
 * them and hashing only what the caller asked for, so no Transform sits
 * between the socket and the disk. Memory stays bounded: one batch gathering,
 * plus what the stream buffers (`highWaterMark`, 1 MiB) while a write is in
 * flight, after which the source is paused (backpressure). The file is closed
 * before `finish`.
 */
export class FileSink extends Writable {
  /** Bytes accepted so far (at `finish`: the file's size). */
  bytes = 0;
  readonly #path: string;
  readonly #sha256: Hash | undefined;
  readonly #md5: Hash | undefined;
  #fd: number | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  readonly #sync: boolean;

  constructor(path: string, want: Checksum | undefined, digest: boolean, sync = false) {
    super({ highWaterMark: 8 * BATCH });
    this.#path = path;
    this.#sync = sync;
    this.#sha256 = digest || want?.algo === "sha256" ? createHash("sha256") : undefined;
    this.#md5 = want?.algo === "md5" ? createHash("md5") : undefined;
  }

  override _construct(cb: (e?: Error | null) => void): void {
    fs.open(this.#path, "w", (e, fd) => {
      this.#fd = fd;
      cb(e);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#take(chunk);
    this.#flush(BATCH, cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    for (const c of chunks) this.#take(c.chunk);
    this.#flush(BATCH, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#flush(0, (e) => {
      if (e) return cb(e);
      const fd = this.#fd!;
      this.#fd = undefined;
      fs.close(fd, cb);
    });
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd === undefined) return cb(e);
    fs.close(fd, () => cb(e));
  }

  /** Hex digests of what was asked for; call once, after `finish`. */
  digests(): { sha256?: string; md5?: string } {
    const d: { sha256?: string; md5?: string } = {};
    if (this.#sha256) d.sha256 = this.#sha256.digest("hex");
    if (this.#md5) d.md5 = this.#md5.digest("hex");
    return d;
  }

  #take(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.#sha256?.update(chunk);
    this.#md5?.update(chunk);
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  // Writes what is pending once it reaches `min` bytes (and is not empty); the stream calls one write at a time.
  #flush(min: number, cb: (e?: Error | null) => void): void {
    const size = this.#pendingBytes;
    if (size === 0 || size < min) return cb();
    const bufs = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    const done = (e: Error | null, n: number): void =>
      cb(e ?? (n === size ? null : new Error(`short write to ${this.#path}: ${n} of ${size} bytes`)));
    if (this.#sync) {
      let n = 0;
      try {
        n = fs.writevSync(this.#fd!, bufs);
        // A short write (rare on files) goes on from where it stopped.
        if (n < size) {
          const rest = Buffer.concat(bufs).subarray(n);
          for (let off = 0; off < rest.length;) off += fs.writeSync(this.#fd!, rest, off);
          n = size;
        }
      } catch (e) {
        return done(e as Error, n);
      }
      return done(null, n);
    }
    // libuv writes the whole vector (looping over short writes) or fails.
    fs.writev(this.#fd!, bufs, done);
  }
}

/**
 * Describes a download whose bytes all arrived, after checking them against
 * the expected checksum: a mismatch is a StagingError that is not retried
 * (the same bytes would come again).
 */
export function downloaded(
  sink: FileSink,
  want: Checksum | undefined,
  what: string,
  r: { path: string; url: string; attempts: number; status?: number },
): DownloadResult {
  const got = sink.digests();
  const actual = want?.algo === "md5" ? got.md5 : got.sha256;
  if (want && actual !== want.hex) {
    throw new StagingError(
      `${what}: checksum mismatch: expected ${want.algo}:${want.hex}, got ${want.algo}:${actual}`,
      {
        url: r.url,
        status: r.status,
        bytes: sink.bytes,
      },
    );
  }
  const out: DownloadResult = { path: r.path, url: r.url, attempts: r.attempts, bytes: sink.bytes };
  if (got.sha256 !== undefined) out.sha256 = got.sha256;
  return out;
}

/** Checks the conditional-download options before any byte moves. */
export function checkConditional(o: DownloadOptions): void {
  if (
    o.ifModifiedSince !== undefined &&
    !(o.ifModifiedSince instanceof Date && !Number.isNaN(o.ifModifiedSince.getTime()))
  ) {
    throw new ConfigError(`ifModifiedSince: expected a valid Date, got ${String(o.ifModifiedSince)}`);
  }
  if (
    o.ifNoneMatch !== undefined &&
    (typeof o.ifNoneMatch !== "string" || o.ifNoneMatch === "" || /[\r\n]/.test(o.ifNoneMatch))
  ) {
    throw new ConfigError(`ifNoneMatch: expected an entity tag, got ${JSON.stringify(o.ifNoneMatch)}`);
  }
}

/**
 * Runs `write(tmp)` with a temporary path in `dest`'s directory (same file
 * system, so the rename is atomic) and renames it to `dest` only if it
 * resolves; the temporary file is removed on failure. A reader of `dest` thus
 * sees the old file or the complete new one, never a partial one. A result
 * with `notModified: true` leaves `dest` as it was (and removes any temporary
 * file an earlier attempt left).
 */
export async function intoPlace<T extends { notModified?: true }>(
  dest: string,
  write: (tmp: string) => Promise<T>,
): Promise<T> {
  const dir = path.dirname(path.resolve(dest));
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(dest)}.${randomBytes(6).toString("hex")}.part`);
  try {
    const r = await write(tmp);
    if (r.notModified) await fs.promises.rm(tmp, { force: true });
    else await fs.promises.rename(tmp, dest);
    return r;
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Marks an error as worth another attempt; its message names the operation and URL, like a StagingError's. */
export class Transient extends Error {
  constructor(
    message: string,
    readonly details: StagingErrorDetails,
    /** Server-requested delay (Retry-After), ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }
}

/** Socket error codes after which a new attempt may well succeed (a reset, a timeout, a DNS hiccup). */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EAI_AGAIN",
  "ENETRESET",
]);

/**
 * Calls `attempt` until it resolves, retrying a {@link Transient} failure up
 * to `retries` times with exponential backoff; anything else is final. The
 * final error is a StagingError carrying the number of attempts.
 */
export async function withRetries<T>(
  what: string,
  opts: TransferOptions,
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  const retries = opts.retries ?? 3;
  const base = opts.backoffMs ?? 500;
  const max = opts.maxBackoffMs ?? 30_000;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new ConfigError(`retries: expected an integer >= 0, got ${String(retries)}`);
  }
  for (let n = 1; ; n++) {
    try {
      opts.signal?.throwIfAborted();
      return await attempt(n);
    } catch (e) {
      if (opts.signal?.aborted) {
        throw new StagingError(`${what}: aborted`, { cause: opts.signal.reason, attempts: n });
      }
      if (e instanceof Transient && n <= retries) {
        // Jitter spreads the retries of many tasks that failed together.
        const delay = e.retryAfterMs ?? Math.min(max, base * 2 ** (n - 1)) * (0.5 + Math.random() / 2);
        await sleep(Math.min(delay, max), undefined, opts.signal ? { signal: opts.signal } : undefined).catch(
          () => undefined,
        );
        continue;
      }
      if (e instanceof Transient) {
        throw new StagingError(`${e.message} (gave up after ${n} attempts)`, { ...e.details, attempts: n });
      }
      if (e instanceof StagingError) {
        throw new StagingError(e.message, { ...detailsOf(e), attempts: n });
      }
      if (e instanceof ConfigError) throw e;
      throw new StagingError(`${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, attempts: n });
    }
  }
}

function detailsOf(e: StagingError): StagingErrorDetails {
  return { cause: e.cause, url: e.url, status: e.status, bytes: e.bytes };
}

/** The URL as text for messages: any password becomes `***`. */
export function redact(u: URL): string {
  if (u.password === "") return u.href;
  const c = new URL(u.href);
  c.password = "***";
  return c.href;
}
