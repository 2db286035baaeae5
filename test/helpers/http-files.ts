// A small HTTP file server on loopback for staging tests: GET serves what PUT stored (or what the test put), with
// an ETag and 304 for If-None-Match; it counts requests per path and method, and connections.
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export class HttpFiles {
  readonly files = new Map<string, Buffer>();
  /** "GET /a.txt" → count. */
  readonly hits = new Map<string, number>();
  /** Paths answering 404 / 500 for every request. */
  readonly broken = new Map<string, number>();
  connections = 0;
  /** Requests answered 304 Not Modified. */
  notModified = 0;
  #server: http.Server;
  url = "";

  constructor() {
    this.#server = http.createServer((req, res) => {
      const p = new URL(req.url!, "http://x").pathname;
      const key = `${req.method} ${p}`;
      this.hits.set(key, (this.hits.get(key) ?? 0) + 1);
      const status = this.broken.get(p);
      if (status !== undefined) return void res.writeHead(status).end(`status ${status}`);
      if (req.method === "PUT") {
        const parts: Buffer[] = [];
        req.on("data", (c: Buffer) => parts.push(c));
        req.on("end", () => {
          this.files.set(p, Buffer.concat(parts));
          res.writeHead(201).end();
        });
        return;
      }
      const body = this.files.get(p);
      if (body === undefined) return void res.writeHead(404).end("not found");
      const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
      if (req.headers["if-none-match"] === etag) {
        this.notModified++;
        return void res.writeHead(304, { etag }).end();
      }
      res.writeHead(200, { "content-length": body.length, etag }).end(body);
    });
    this.#server.on("connection", () => this.connections++);
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  count(method: string, p: string): number {
    return this.hits.get(`${method} ${p}`) ?? 0;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }
}
