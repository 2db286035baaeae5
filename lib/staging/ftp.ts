/**
 * FTP staging with `basic-ftp` (passive mode, binary): {@link download}
 * (RETR) and {@link upload} (STOR to a temporary name, then RNFR/RNTO so the
 * remote file too is never seen half-written). Credentials come from the URL
 * (`ftp://user:pass@host/path`), else from `~/.netrc`, else anonymous. As with
 * curl, the URL path is relative to the login directory; `%2F` at its start
 * makes it absolute.
 * @module
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { posix } from "node:path";
import { finished, pipeline } from "node:stream/promises";
import { Client, FTPError } from "basic-ftp";
import { ConfigError, StagingError, type StagingErrorDetails } from "../errors.js";
import {
  checkConditional,
  downloaded,
  FileSink,
  intoPlace,
  Meter,
  parseChecksum,
  redact,
  Transient,
  TRANSIENT_CODES,
  withRetries,
  type DownloadOptions,
  type DownloadResult,
  type TransferOptions,
  type UploadResult,
} from "./common.js";
import { netrcFor } from "./netrc.js";

/** Options for FTP {@link download} and {@link upload}. */
export interface FtpOptions extends TransferOptions {
  /** Fail when the control or data connection is silent this many ms (default 30 000). */
  timeoutMs?: number;
  /** netrc file to read credentials from (default `$NETRC` or `~/.netrc`); `false` to read none. */
  netrc?: string | false;
}

/** Options for an FTP {@link download}. */
export type FtpDownloadOptions = FtpOptions & DownloadOptions;

interface Target {
  url: URL;
  shown: string;
  host: string;
  port: number;
  path: string;
  user: string;
  password: string;
}

function target(url: string | URL, o: FtpOptions): Target {
  const u = new URL(url);
  if (u.protocol !== "ftp:") throw new ConfigError(`url: expected an ftp: URL, got ${redact(u)}`);
  const path = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (path === "" || path.endsWith("/")) throw new ConfigError(`url: ${redact(u)} names a directory, not a file`);
  let user = decodeURIComponent(u.username);
  let password = decodeURIComponent(u.password);
  if (user === "" && o.netrc !== false) {
    const e = netrcFor(u.hostname, o.netrc);
    if (e?.login !== undefined) [user, password] = [e.login, e.password ?? ""];
  }
  // RFC 1635: anonymous users give an email-like password.
  if (user === "") [user, password] = ["anonymous", "anonymous@"];
  return { url: u, shown: redact(u), host: u.hostname, port: Number(u.port || 21), path, user, password };
}

// One logged-in control connection for `fn`, closed afterwards; aborting the signal closes it at once.
async function session<T>(t: Target, o: FtpOptions, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client(o.timeoutMs ?? 30_000);
  const abort = (): void => c.close();
  o.signal?.addEventListener("abort", abort, { once: true });
  try {
    try {
      await c.access({ host: t.host, port: t.port, user: t.user, password: t.password, secure: false });
    } catch (e) {
      throw failure(`FTP login as ${t.user} at ${t.shown}`, e, { url: t.shown });
    }
    return await fn(c);
  } finally {
    o.signal?.removeEventListener("abort", abort);
    c.close();
  }
}

/**
 * Downloads `url` to the file `dest` over FTP, streaming through a temporary
 * file in `dest`'s directory that is renamed when whole (size checked against
 * the server's SIZE, checksum if given). Transient failures (4xx replies,
 * resets, timeouts) are retried with backoff; a refused login (530) or a
 * missing file (550) fails at once.
 *
 * With `ifModifiedSince`, the file's MDTM time is asked first: when the
 * server's file is not newer (compared in whole seconds, MDTM's precision)
 * nothing is transferred and the result says `notModified: true`, with the
 * server's time as `lastModified`; `dest` is left alone. A server without
 * MDTM gets the file sent. `ifNoneMatch` is accepted and ignored: FTP has no
 * entity tags.
 *
 * @example
 * ```ts
 * await download("ftp://ftp.example.org/pub/genome.fa.gz", "/scratch/genome.fa.gz", {
 *   checksum: "md5:5d41402abc4b2a76b9719d911017c592",
 * });
 * ```
 */
export async function download(
  url: string | URL,
  dest: string,
  opts: FtpDownloadOptions = {},
): Promise<DownloadResult> {
  const t = target(url, opts);
  const want = parseChecksum(opts.checksum);
  checkConditional(opts);
  const since = opts.ifModifiedSince === undefined ? undefined : Math.floor(opts.ifModifiedSince.getTime() / 1000);
  return intoPlace(dest, (tmp) =>
    withRetries(`RETR ${t.shown}`, opts, (attempt) =>
      session(t, opts, async (c) => {
        const details = { url: t.shown, bytes: 0 };
        const lastModified = await c.lastMod(t.path).catch(() => undefined);
        if (since !== undefined && lastModified !== undefined && Math.floor(lastModified.getTime() / 1000) <= since) {
          return { path: dest, url: t.shown, attempts: attempt, bytes: 0, lastModified, notModified: true };
        }
        // SIZE fails for a missing file too; RETR then says so in its own words.
        const size = await c.size(t.path).catch(() => undefined);
        const out = new FileSink(tmp, want, opts.digest === true, opts.syncWrites === true);
        const written = finished(out);
        written.catch(() => undefined); // awaited below; this keeps an early disk error from going unhandled
        try {
          await c.downloadTo(out, t.path);
        } catch (e) {
          out.destroy();
          throw failure(`RETR ${t.shown}`, e, { ...details, bytes: out.bytes });
        }
        await written;
        details.bytes = out.bytes;
        if (size !== undefined && out.bytes !== size) {
          throw new Transient(`RETR ${t.shown}: received ${out.bytes} of ${size} bytes (SIZE)`, details);
        }
        const r = downloaded(out, want, `RETR ${t.shown}`, { url: t.shown, path: dest, attempts: attempt });
        if (lastModified !== undefined) r.lastModified = lastModified;
        return r;
      }),
    ),
  );
}

/**
 * Uploads the local file `src` to `url` over FTP (STOR). The bytes go to a
 * hidden temporary name in the target directory (created if missing) and are
 * renamed into place once the server confirmed them and reports the full size.
 *
 * @example
 * ```ts
 * // credentials from ~/.netrc: "machine ftp.example.org login alice password s3cret"
 * await upload("out/result.csv", "ftp://ftp.example.org/incoming/result.csv");
 * ```
 */
export async function upload(src: string, url: string | URL, opts: FtpOptions = {}): Promise<UploadResult> {
  const t = target(url, opts);
  const size = (
    await fs.promises.stat(src).catch((e: unknown) => {
      throw new StagingError(`STOR ${t.shown}: cannot read ${src}: ${(e as Error).message}`, {
        url: t.shown,
        cause: e,
      });
    })
  ).size;
  const dir = posix.dirname(t.path);
  const name = posix.basename(t.path);
  return withRetries(`STOR ${t.shown}`, opts, (attempt) =>
    session(t, opts, async (c) => {
      const part = `.${name}.${randomBytes(6).toString("hex")}.part`;
      const meter = new Meter();
      try {
        if (dir !== ".") await c.ensureDir(dir);
        pipeline(fs.createReadStream(src), meter).catch((e: unknown) => meter.destroy(e as Error));
        const res = await c.uploadFrom(meter, part);
        const stored = await c.size(part);
        if (stored !== size) {
          throw new Transient(`STOR ${t.shown}: server holds ${stored} of ${size} bytes`, {
            url: t.shown,
            bytes: meter.bytes,
          });
        }
        await c.rename(part, name);
        return {
          url: t.shown,
          bytes: meter.bytes,
          attempts: attempt,
          status: res.code,
          sha256: meter.sha256(),
        };
      } catch (e) {
        // Best effort: a dead connection cannot remove it, and the next attempt uses a new name anyway.
        if (!c.closed) await c.remove(part, true).catch(() => undefined);
        throw failure(`STOR ${t.shown}`, e, { url: t.shown, bytes: meter.bytes });
      }
    }),
  );
}

// FTP replies 4xx are "try again later"; 5xx are final (530 bad login, 550 no such file, 553 bad name).
function failure(what: string, e: unknown, details: StagingErrorDetails): Error {
  if (e instanceof Transient || e instanceof StagingError) return e;
  const err = e as Error & { code?: unknown };
  if (e instanceof FTPError) {
    const d = { ...details, status: e.code, cause: e };
    const why = `${what}: ${e.message}${details.bytes ? ` after ${details.bytes} bytes` : ""}`;
    return e.code >= 400 && e.code < 500 ? new Transient(why, d) : new StagingError(why, d);
  }
  const why = `${what}: ${err.message}${details.bytes ? ` after ${details.bytes} bytes` : ""}`;
  const transient =
    (typeof err.code === "string" && TRANSIENT_CODES.has(err.code)) || /^Timeout \(|closed/i.test(err.message);
  return transient ? new Transient(why, { ...details, cause: e }) : new StagingError(why, { ...details, cause: e });
}
