/**
 * The dashboard's HTTP server (`taskloom monitor`): the page, its assets and
 * a read-only JSON API over one monitoring store, on loopback by default.
 * One read-only connection serves every request; SQLite's WAL lets it read
 * while a running workflow keeps writing.
 * @module
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "../errors.js";
import { ALL_STATES } from "../states.js";
import { finishSpool, listRuns, openStore, type StoreDb } from "../monitoring/read.js";
import {
  blockHistory,
  DAG_SLICE_MAX,
  dagSlice,
  hasRun,
  resourcePoints,
  runOverview,
  runSummaries,
  taskDetail,
  taskPage,
  timeline,
} from "./queries.js";
import { checkQuery, choiceParam, intParam, ParamError, parseIntIn, textParam, windowParams } from "./params.js";
import { readStatic, staticDir } from "./static-files.js";

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** A monitoring.db file (see `findStore` to find one from a run directory). */
  store: string;
  /** Address to listen on. @default "127.0.0.1" */
  host?: string;
  /** Port; 0 picks a free one. @default 8080 */
  port?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** Where the page is, e.g. `"http://127.0.0.1:8080/"`. */
  url: string;
  /** Stops listening, ends open connections and closes the store. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** An answer other than 200: its status and message, sent as `{ error }`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/** The page never loads anything from elsewhere, nor runs inline script. */
const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function send(
  res: http.ServerResponse,
  head: boolean,
  status: number,
  body: Buffer | string,
  headers: Record<string, string>,
): void {
  const buf = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, "Content-Length": String(buf.length) });
  res.end(head ? undefined : buf);
}

function sendJson(res: http.ServerResponse, head: boolean, status: number, value: unknown): void {
  send(res, head, status, JSON.stringify(value), {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  });
}

/** `host:port` as a URL writes it (IPv6 in brackets); unspecified addresses as loopback. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** The name part of a Host header (`[::1]:80` → `::1`). */
function hostName(header: string): string {
  const m = /^\[([^\]]*)\]/.exec(header);
  if (m) return m[1]!;
  const i = header.lastIndexOf(":");
  return i < 0 ? header : header.slice(0, i);
}

/** The API: `segments` are the decoded path after `/api/`. */
class Api {
  readonly #db: StoreDb;

  constructor(db: StoreDb) {
    this.#db = db;
  }

  answer(segments: string[], q: URLSearchParams): unknown {
    const db = this.#db;
    if (segments[0] !== "runs") throw new HttpError(404, `no such endpoint: /api/${segments.join("/")}`);
    if (segments.length === 1) {
      checkQuery(q, []);
      return runSummaries(db);
    }
    const runId = segments[1]!;
    if (!hasRun(db, runId)) throw new HttpError(404, this.#noRun(runId));
    const [, , what, id, ...more] = segments;
    if (more.length > 0) throw new HttpError(404, `no such endpoint: /api/${segments.join("/")}`);
    switch (what) {
      case undefined: {
        checkQuery(q, []);
        const o = runOverview(db, runId);
        if (o === undefined) throw new HttpError(404, this.#noRun(runId));
        return o;
      }
      case "tasks": {
        if (id !== undefined) {
          checkQuery(q, []);
          const taskId = parseIntIn(id, "task id", 0);
          const t = taskDetail(db, runId, taskId);
          if (t === undefined) throw new HttpError(404, `no task ${taskId} in run ${runId}`);
          return t;
        }
        checkQuery(q, ["state", "app", "after", "limit"]);
        return taskPage(db, runId, {
          state: choiceParam(q, "state", ALL_STATES),
          app: textParam(q, "app"),
          after: intParam(q, "after", 0),
          limit: intParam(q, "limit", 1, 500) ?? 100,
        });
      }
      case "dag": {
        if (id !== undefined) break;
        checkQuery(q, ["from", "to"]);
        const w = windowParams(q, { min: 0, span: DAG_SLICE_MAX, maxSpan: DAG_SLICE_MAX, unit: "task ids" });
        return dagSlice(db, runId, w.from, w.to);
      }
      case "timeline": {
        if (id !== undefined) break;
        checkQuery(q, ["from", "to"]);
        const w = windowParams(q, { min: 0, unit: "ms since the epoch" });
        return timeline(db, runId, w.from, w.to);
      }
      case "resources": {
        if (id !== undefined) break;
        checkQuery(q, ["app"]);
        return resourcePoints(db, runId, textParam(q, "app"));
      }
      case "blocks": {
        if (id !== undefined) break;
        checkQuery(q, []);
        return blockHistory(db, runId);
      }
    }
    throw new HttpError(
      404,
      `no such endpoint: /api/${segments.join("/")}; a run has: tasks, tasks/:id, dag, timeline, resources, blocks`,
    );
  }

  #noRun(runId: string): string {
    // the workflow table only: counting every run's tasks is no price for an error message
    const ids = listRuns(this.#db).map((r) => r.runId);
    const listed = ids.length > 10 ? `${ids.slice(0, 10).join(", ")}, …` : ids.join(", ");
    return `no run ${JSON.stringify(runId)} in this store${ids.length > 0 ? `; it has: ${listed}` : ""}`;
  }
}

/**
 * Serves the dashboard for one monitoring store until `close()`.
 *
 * @throws ConfigError when `store` is not a monitoring store, or the port is taken.
 * @example
 * ```ts
 * const d = await startDashboard({ store: "runinfo/000/monitoring.db", port: 0 });
 * console.log(d.url); // "http://127.0.0.1:40123/"
 * await d.close();
 * ```
 */
export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const host = o.host ?? "127.0.0.1";
  const port = o.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`port: expected an integer 0–65535 (0 = any free port), got ${String(port)}`);
  }
  const dir = staticDir();
  for (const w of await finishSpool(o.store)) process.emitWarning(w, "TaskloomMonitoringWarning");
  const db = openStore(o.store);
  const api = new Api(db);
  const snapshot = <T>(read: () => T): T => db.transaction(read)();
  // a page on another site must not reach a loopback server through a rebound DNS name
  const checkHost = LOOPBACK.has(host);

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const head = req.method === "HEAD";
    try {
      if (req.method !== "GET" && !head) {
        res.setHeader("Allow", "GET, HEAD");
        throw new HttpError(405, `method ${req.method ?? "?"} not allowed: the dashboard is read-only (GET, HEAD)`);
      }
      if (checkHost && !LOOPBACK.has(hostName(req.headers.host ?? ""))) {
        throw new HttpError(403, `host ${JSON.stringify(req.headers.host ?? "")} not allowed; use ${url}`);
      }
      const u = new URL(req.url ?? "/", "http://dashboard.invalid");
      const raw = u.pathname;
      if (raw === "/" || raw === "/index.html") return sendStatic(res, head, "index.html");
      if (raw.startsWith("/static/")) return sendStatic(res, head, decode(raw.slice("/static/".length)));
      if (raw === "/api" || raw.startsWith("/api/")) {
        const segments = raw
          .slice("/api/".length)
          .split("/")
          .filter((s) => s !== "")
          .map(decode);
        // one read transaction: the counts and rows of an answer agree while a workflow writes the store
        return sendJson(
          res,
          head,
          200,
          snapshot(() => api.answer(segments, u.searchParams)),
        );
      }
      throw new HttpError(404, `not found: ${raw}`);
    } catch (e) {
      if (e instanceof HttpError) return sendJson(res, head, e.status, { error: e.message });
      if (e instanceof ParamError) return sendJson(res, head, 400, { error: e.message });
      process.stderr.write(
        `taskloom monitor: ${req.method} ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      if (res.headersSent) return void res.destroy();
      sendJson(res, head, 500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` });
    }
  };

  const sendStatic = (res: http.ServerResponse, head: boolean, rel: string) => {
    const f = readStatic(dir, rel);
    if (f === undefined) throw new HttpError(404, `not found: /static/${rel}`);
    const headers: Record<string, string> = { "Content-Type": f.contentType, "Cache-Control": "no-cache" };
    if (f.contentType.startsWith("text/html")) headers["Content-Security-Policy"] = PAGE_CSP;
    send(res, head, 200, f.body, headers);
  };

  const server = http.createServer(handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    db.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new ConfigError(`port ${port} on ${host} is in use; choose another with --port N (0 = any free port)`);
    }
    // the address cannot be had (EADDRNOTAVAIL, ENOTFOUND, EACCES, EAFNOSUPPORT, …): the user's to change
    if (typeof code === "string") throw new ConfigError(`cannot listen on ${host}:${port}: ${(e as Error).message}`);
    throw e;
  }
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${bound}/`;
  let closed: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => {
          db.close();
          resolve();
        });
        server.closeAllConnections();
      })),
  };
}

/** A path segment, URL-decoded. */
function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ParamError(`path: bad percent-encoding in ${JSON.stringify(s)}`);
  }
}
