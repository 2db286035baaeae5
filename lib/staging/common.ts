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
import { Transform, type TransformCallback } from "node:stream";
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
}

/** What a finished download tells. */
export interface DownloadResult {
  /** The destination path (the file is complete there). */
  path: string;
  bytes: number;
  /** The URL the bytes came from, after redirects, without password. */
  url: string;
  attempts: number;
  /** Hex sha256 of the bytes (always computed: cheap next to the network, and a cache can key on it). */
  sha256: string;
  /** Server's ETag, if it sent one (HTTP). */
  etag?: string;
  /** Server's modification time, if it told (HTTP Last-Modified, FTP MDTM). */
  lastModified?: Date;
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

/** A pass-through that counts and hashes what flows, so nothing has to be read twice. */
export class Meter extends Transform {
  bytes = 0;
  readonly #sha256: Hash = createHash("sha256");
  readonly #extra: Hash | undefined;
  readonly #onChunk: (() => void) | undefined;

  constructor(checksum: Checksum | undefined, onChunk?: () => void) {
    super();
    this.#extra = checksum && checksum.algo !== "sha256" ? createHash(checksum.algo) : undefined;
    this.#onChunk = onChunk;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.#sha256.update(chunk);
    this.#extra?.update(chunk);
    this.#onChunk?.();
    cb(null, chunk);
  }

  /** Hex digests; call once, after the stream ended. */
  digests(): { sha256: string; md5?: string } {
    const sha256 = this.#sha256.digest("hex");
    return this.#extra ? { sha256, md5: this.#extra.digest("hex") } : { sha256 };
  }
}

/**
 * Describes a download whose bytes all arrived, after checking them against
 * the expected checksum: a mismatch is a StagingError that is not retried
 * (the same bytes would come again).
 */
export function downloaded(
  meter: Meter,
  want: Checksum | undefined,
  what: string,
  r: { path: string; url: string; attempts: number; status?: number },
): DownloadResult {
  const got = meter.digests();
  const actual = want?.algo === "md5" ? got.md5 : got.sha256;
  if (want && actual !== want.hex) {
    throw new StagingError(
      `${what}: checksum mismatch: expected ${want.algo}:${want.hex}, got ${want.algo}:${actual}`,
      {
        url: r.url,
        status: r.status,
        bytes: meter.bytes,
      },
    );
  }
  return { path: r.path, url: r.url, attempts: r.attempts, bytes: meter.bytes, sha256: got.sha256 };
}

/**
 * Runs `write(tmp)` with a temporary path in `dest`'s directory (same file
 * system, so the rename is atomic) and renames it to `dest` only if it
 * resolves; the temporary file is removed on failure. A reader of `dest` thus
 * sees the old file or the complete new one, never a partial one.
 */
export async function intoPlace<T>(dest: string, write: (tmp: string) => Promise<T>): Promise<T> {
  const dir = path.dirname(path.resolve(dest));
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(dest)}.${randomBytes(6).toString("hex")}.part`);
  try {
    const r = await write(tmp);
    await fs.promises.rename(tmp, dest);
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
