/**
 * HTTP(S) staging: {@link download} (GET, streamed to disk) and
 * {@link upload} (PUT, streamed from disk).
 *
 * Why `node:http` / `node:https` and not undici (or global `fetch`): on Node 20
 * the undici versions that run there (6.x and 7.x; 8 needs Node 22) can kill
 * the whole process with an uncatchable `assert(!this.paused)` when a server
 * that closes the connection after the body (HTTP/1.0, `Connection: close`)
 * meets a client whose disk write applies backpressure (undici #5360, fixed
 * only in undici 8). A download must never take a workflow down, so this
 * module uses Node's own HTTP client, whose parser handles that end of stream,
 * with a keep-alive `Agent` per {@link HttpPool} for connection reuse; no
 * extra dependency. `test/integration/staging-http.test.ts` proves it with 20
 * × 32 MB downloads from such a server into a deliberately slow disk writer.
 * @module
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ConfigError, StagingError } from "../errors.js";
import { VERSION } from "../version.js";
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

/** Options for {@link download} and {@link upload}. */
export interface HttpOptions extends TransferOptions {
  /** Fail an attempt that has no TCP connection after this many ms (default 30 000). */
  connectTimeoutMs?: number;
  /** Fail an attempt when the server sends (or, uploading, takes) nothing for this many ms (default 60 000). */
  idleTimeoutMs?: number;
  /** Redirects followed before giving up (default 5). */
  maxRedirects?: number;
  /** Extra request headers, e.g. `authorization`; dropped when a redirect leaves the origin. */
  headers?: Record<string, string>;
  /** Connection pool to use (default: one shared by the process). */
  pool?: HttpPool;
}

/** Options for an HTTP {@link download}. */
export type HttpDownloadOptions = HttpOptions & DownloadOptions;

/**
 * Keep-alive connection pools, one per host inside each agent: many small
 * files from one host reuse a few connections instead of opening one each.
 *
 * @example
 * ```ts
 * const pool = new HttpPool({ maxSocketsPerHost: 4 });
 * try {
 *   await Promise.all(urls.map((u, i) => download(u, `in/${i}`, { pool })));
 * } finally {
 *   pool.destroy();
 * }
 * ```
 */
export class HttpPool {
  readonly http: http.Agent;
  readonly https: https.Agent;

  constructor(opts: { maxSocketsPerHost?: number; tls?: https.AgentOptions } = {}) {
    // lifo reuses the most recently used socket, the one least likely to have been closed by the server.
    const common = { keepAlive: true, maxSockets: opts.maxSocketsPerHost ?? 8, scheduling: "lifo" as const };
    this.http = new http.Agent(common);
    this.https = new https.Agent({ ...opts.tls, ...common });
  }

  /** Closes every pooled connection; in-flight transfers fail. */
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

let shared: HttpPool | undefined;
function sharedPool(): HttpPool {
  return (shared ??= new HttpPool());
}

interface Resolved {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxRedirects: number;
  headers: Record<string, string>;
  pool: HttpPool;
  signal: AbortSignal | undefined;
}

function resolve(o: HttpOptions): Resolved {
  for (const k of ["connectTimeoutMs", "idleTimeoutMs", "maxRedirects"] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
      throw new ConfigError(`${k}: expected a number >= 0, got ${String(v)}`);
    }
  }
  return {
    connectTimeoutMs: o.connectTimeoutMs ?? 30_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 60_000,
    maxRedirects: o.maxRedirects ?? 5,
    headers: o.headers ?? {},
    pool: o.pool ?? sharedPool(),
    signal: o.signal,
  };
}

function parseUrl(url: string | URL): URL {
  const u = new URL(url);
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigError(`url: expected an http: or https: URL, got ${redact(u)}`);
  }
  return u;
}

/**
 * Downloads `url` to the file `dest`, streaming, and resolves once the
 * complete file is there. The bytes land in a temporary file next to `dest`
 * that is renamed when whole (size matched against Content-Length, checksum
 * if given), so `dest` never holds a partial file; on failure nothing is left
 * behind. 5xx, 429, resets and timeouts are retried with exponential backoff;
 * other 4xx are not. Failures are {@link StagingError}s naming the URL, HTTP
 * status and bytes received.
 *
 * With `ifNoneMatch` / `ifModifiedSince` the request is conditional: a 304
 * Not Modified resolves with `notModified: true`, `bytes: 0` and whatever
 * ETag / Last-Modified the 304 carried, and leaves `dest` alone. A 304 to an
 * unconditional request is an error, like any other unexpected status.
 *
 * @example
 * ```ts
 * const r = await download("https://example.org/genome.fa", "/scratch/genome.fa", {
 *   checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
 *   idleTimeoutMs: 30_000,
 * });
 * console.log(r.bytes, r.sha256, r.etag);
 * // Later: fetch it again only if it changed.
 * const again = await download("https://example.org/genome.fa", "/scratch/genome.fa", { ifNoneMatch: r.etag });
 * console.log(again.notModified); // true while the server's ETag is the same
 * ```
 */
export async function download(
  url: string | URL,
  dest: string,
  opts: HttpDownloadOptions = {},
): Promise<DownloadResult> {
  const u = parseUrl(url);
  const o = resolve(opts);
  const want = parseChecksum(opts.checksum);
  checkConditional(opts);
  const conditional: Record<string, string> = {};
  if (opts.ifNoneMatch !== undefined) conditional["if-none-match"] = opts.ifNoneMatch;
  if (opts.ifModifiedSince !== undefined) conditional["if-modified-since"] = opts.ifModifiedSince.toUTCString();
  return intoPlace(dest, (tmp) =>
    withRetries(`GET ${redact(u)}`, opts, async (attempt) => {
      const { res, at, watch } = await follow("GET", u, o, undefined, conditional);
      const details = { url: redact(at), status: res.statusCode ?? 0, bytes: 0 };
      if (details.status === 304) {
        await drain(res);
        watch.stop();
        return validators(res, { path: dest, url: details.url, attempts: attempt, bytes: 0, notModified: true });
      }
      const expected = contentLength(res);
      const out = new FileSink(tmp, want, opts.digest === true, opts.syncWrites === true);
      // A slow disk pauses the socket; that silence is ours, not the server's, so it must not count as idle.
      watch.busy = () => out.writableNeedDrain;
      let received = 0;
      res.on("data", (chunk: Buffer) => {
        received += chunk.length;
        watch.arm();
      });
      try {
        await pipeline(res, out);
      } catch (e) {
        throw new Transient(
          `GET ${details.url}: ${watch.fired ?? "connection lost"} after ${received}${expected === undefined ? "" : ` of ${expected}`} bytes (HTTP ${details.status}): ${message(e)}`,
          { ...details, bytes: received, cause: e },
        );
      } finally {
        watch.stop();
      }
      details.bytes = out.bytes;
      if ((expected !== undefined && out.bytes !== expected) || !res.complete) {
        throw new Transient(
          `GET ${details.url}: received ${out.bytes} bytes but Content-Length said ${expected ?? "(chunked)"} (HTTP ${details.status})`,
          details,
        );
      }
      return validators(
        res,
        downloaded(out, want, `GET ${details.url}`, { ...details, path: dest, attempts: attempt }),
      );
    }),
  );
}

// Adds the response's ETag and Last-Modified, when it has them, to a result.
function validators(res: http.IncomingMessage, r: DownloadResult): DownloadResult {
  const etag = res.headers.etag;
  if (etag !== undefined) r.etag = etag;
  const lm = res.headers["last-modified"];
  if (lm !== undefined && !Number.isNaN(Date.parse(lm))) r.lastModified = new Date(lm);
  return r;
}

/**
 * Uploads the local file `src` to `url` with a streamed PUT (Content-Length
 * set, so servers need no chunked encoding). 307/308 redirects are followed
 * by sending the file again; 5xx, 429, resets and timeouts are retried.
 *
 * @example
 * ```ts
 * const r = await upload("results/summary.csv", "https://store.example.org/run42/summary.csv", {
 *   headers: { authorization: `Bearer ${token}` },
 * });
 * console.log(r.status, r.bytes); // 201 48213
 * ```
 */
export async function upload(src: string, url: string | URL, opts: HttpOptions = {}): Promise<UploadResult> {
  const u = parseUrl(url);
  const o = resolve(opts);
  const size = (
    await fs.promises.stat(src).catch((e: unknown) => {
      throw new StagingError(`PUT ${redact(u)}: cannot read ${src}: ${message(e)}`, { url: redact(u), cause: e });
    })
  ).size;
  return withRetries(`PUT ${redact(u)}`, opts, async (attempt) => {
    let meter!: Meter;
    const body = (watch: Watch): Body => {
      meter = new Meter(() => watch.arm());
      return { size, stream: fs.createReadStream(src), meter };
    };
    const { res, at } = await follow("PUT", u, o, body);
    await drain(res);
    return {
      url: redact(at),
      bytes: meter.bytes,
      attempts: attempt,
      status: res.statusCode ?? 0,
      sha256: meter.sha256(),
    };
  });
}

interface Body {
  size: number;
  stream: Readable;
  meter: Meter;
}

interface Answer {
  res: http.IncomingMessage;
  /** The URL that answered (after redirects). */
  at: URL;
  watch: Watch;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Sends the request, follows redirects, and resolves with a 2xx response
 * whose body is still to be read (or a 304 when `conditional` headers went
 * along); anything else becomes an error, Transient when another attempt may
 * succeed. The conditional headers describe the resource, not the caller, so
 * unlike `o.headers` they follow a redirect to another origin.
 */
async function follow(
  method: "GET" | "PUT",
  start: URL,
  o: Resolved,
  body?: (w: Watch) => Body,
  conditional: Record<string, string> = {},
): Promise<Answer> {
  let at = start;
  for (let hop = 0; ; hop++) {
    const headers = { ...(at.origin === start.origin ? o.headers : {}), ...conditional };
    const { res, watch } = await send(method, at, o, headers, body);
    const status = res.statusCode ?? 0;
    const details = { url: redact(at), status, bytes: 0 };
    const location = res.headers.location;
    // A PUT may only follow redirects that keep the method, and then sends the body again.
    if (REDIRECTS.has(status) && location !== undefined && (method === "GET" || status >= 307)) {
      await drain(res);
      watch.stop();
      const next = new URL(location, at);
      if (hop >= o.maxRedirects) {
        throw new StagingError(
          `${method} ${redact(start)}: more than ${o.maxRedirects} redirects (last to ${redact(next)})`,
          details,
        );
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new StagingError(`${method} ${redact(start)}: redirected to unsupported ${redact(next)}`, details);
      }
      at = next;
      continue;
    }
    if ((status >= 200 && status < 300) || (status === 304 && Object.keys(conditional).length > 0)) {
      return { res, at, watch };
    }
    const text = await drain(res);
    watch.stop();
    const why =
      `${method} ${details.url}: HTTP ${status} ${res.statusMessage ?? ""}`.trimEnd() + (text ? `: ${text}` : "");
    if (status >= 500 || status === 429 || status === 408) throw new Transient(why, details, retryAfter(res));
    throw new StagingError(why, details);
  }
}

function send(
  method: string,
  url: URL,
  o: Resolved,
  headers: Record<string, string>,
  body?: (w: Watch) => Body,
): Promise<{ res: http.IncomingMessage; watch: Watch }> {
  return new Promise((resolvePromise, reject) => {
    const agent = url.protocol === "https:" ? o.pool.https : o.pool.http;
    const h: Record<string, string> = { "user-agent": `taskloom/${VERSION}`, ...headers };
    let b: Body | undefined;
    const req = (url.protocol === "https:" ? https : http).request(url, {
      method,
      agent,
      headers: h,
      signal: o.signal,
    });
    const watch = new Watch(req, o);
    req.on("error", (e) => {
      watch.stop();
      reject(classify(e, method, url, b?.meter.bytes ?? 0));
    });
    req.on("response", (res) => {
      watch.arm();
      // Errors after this point surface through whoever reads the body; this keeps one from being unhandled.
      res.on("error", () => undefined);
      resolvePromise({ res, watch });
    });
    if (body) {
      b = body(watch);
      req.setHeader("content-length", String(b.size));
      pipeline(b.stream, b.meter, req).catch((e: unknown) =>
        req.destroy(e instanceof Error ? e : new Error(String(e))),
      );
    } else {
      req.end();
    }
  });
}

function classify(e: Error, method: string, url: URL, bytes: number): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (e.name === "AbortError") return e;
  const details = { url: redact(url), bytes, cause: e };
  const why = `${method} ${redact(url)}: ${e.message}${code && !e.message.includes(code) ? ` (${code})` : ""}${bytes ? ` after ${bytes} bytes sent` : ""}`;
  return code !== undefined && TRANSIENT_CODES.has(code) ? new Transient(why, details) : new StagingError(why, details);
}

/**
 * Connect and idle timeouts for one request. Node's `req.setTimeout` is a
 * socket timeout, which does not separate a server that sends nothing from a
 * reader that stopped reading, so this keeps its own timer.
 */
class Watch {
  #timer: NodeJS.Timeout | undefined;
  /** Why the watch ended the request, if it did. */
  fired: string | undefined;
  /** True while the local side is the reason nothing moves (a slow disk). */
  busy: () => boolean = () => false;
  readonly #req: http.ClientRequest;
  readonly #o: Resolved;

  constructor(req: http.ClientRequest, o: Resolved) {
    this.#req = req;
    this.#o = o;
    req.once("socket", (s) => {
      if (!s.connecting) return this.arm();
      this.#set(o.connectTimeoutMs, `no connection within ${o.connectTimeoutMs} ms`);
      s.once("connect", () => this.arm());
    });
    req.once("close", () => this.stop());
  }

  /** (Re)starts the idle clock; cheap enough to call per chunk. */
  arm(): void {
    if (this.#timer && this.#kind === "idle") {
      this.#timer.refresh();
      return;
    }
    this.#set(this.#o.idleTimeoutMs, `no data for ${this.#o.idleTimeoutMs} ms`, "idle");
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #kind: "idle" | "connect" = "connect";
  #set(ms: number, why: string, kind: "idle" | "connect" = "connect"): void {
    this.stop();
    if (ms === 0) return;
    this.#kind = kind;
    this.#timer = setTimeout(() => {
      if (this.busy()) return this.#timer?.refresh();
      this.fired = why;
      this.#req.destroy(Object.assign(new Error(why), { code: "ETIMEDOUT" }));
    }, ms);
  }
}

function contentLength(res: http.IncomingMessage): number | undefined {
  const v = res.headers["content-length"];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

// Reads what is left of a response so its connection can be reused; keeps a short prefix for error messages.
async function drain(res: http.IncomingMessage): Promise<string> {
  let text = "";
  // Reading a large body only to reuse the connection costs more than a new connection.
  if ((contentLength(res) ?? 0) > 64 * 1024) {
    res.destroy();
    return text;
  }
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (text.length < 200) text += chunk.toString("utf8", 0, 200 - text.length);
      cb();
    },
  });
  await pipeline(res, sink).catch(() => undefined);
  return text.replace(/\s+/g, " ").trim();
}

function retryAfter(res: http.IncomingMessage): number | undefined {
  const v = res.headers["retry-after"];
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
