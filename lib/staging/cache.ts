/**
 * The node's cache of staged-in files: a URL used by many tasks on one node
 * is fetched once (TaskVine's worker cache). Entries are keyed by URL; an
 * entry checked during this run is used as it is, one from an earlier run is
 * revalidated with the server (ETag / Last-Modified) and fetched again only if
 * it changed. The node's worker processes share the cache through a lock file
 * per entry; the workers of one process share one fetch.
 * @module
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StagingError } from "../errors.js";
import type { File } from "../file.js";
import { fetchUrl, type FetchOptions } from "./transfer.js";

interface Entry {
  url: string;
  bytes: number;
  sha256?: string;
  etag?: string;
  lastModified?: string;
  /** The run that last fetched or revalidated it. */
  run: string;
}

// A lock older than this with no live holder we can see (another host) is taken over.
const STALE_LOCK_MS = 15 * 60_000;
const inflight = new Map<string, Promise<string>>();

/**
 * The local path of a complete copy of `file` in the cache under `dir`, fetching (or revalidating) it if this run
 * has not yet. The copy is read-only: tasks share it.
 * @example
 * ```ts
 * const p = await cachedCopy(new File("https://example.org/ref.fa"), "/tmp/taskloom-staging-1000", runId);
 * ```
 */
export function cachedCopy(file: File, dir: string, run: string): Promise<string> {
  const key = createHash("sha256").update(file.url).digest("hex").slice(0, 32);
  let p = inflight.get(key);
  if (p === undefined) {
    p = fill(file, path.join(dir, "cache", key), run).finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}

async function fill(file: File, base: string, run: string): Promise<string> {
  const data = path.join(base, file.filename || "data");
  const metaPath = `${base}.json`;
  const usable = async (e: Entry | undefined): Promise<boolean> =>
    e !== undefined && e.url === file.url && fs.existsSync(data) && (await matches(data, file.checksum, e));
  let e = readEntry(metaPath);
  if (e?.run === run && (await usable(e))) return data;
  const release = await lock(`${base}.lock`, file.url);
  try {
    e = readEntry(metaPath);
    // Another process may have filled it while we waited for the lock.
    if (e?.run === run && (await usable(e))) return data;
    const keep = await usable(e);
    // Workers stage one task's files at a time: blocking writes are faster and cost them nothing.
    const how: FetchOptions = { syncWrites: true };
    if (file.checksum !== undefined) how.checksum = file.checksum;
    if (keep && e?.etag !== undefined) how.ifNoneMatch = e.etag;
    if (keep && e?.lastModified !== undefined) how.ifModifiedSince = new Date(e.lastModified);
    const r = await fetchUrl(file.url, data, how);
    const next: Entry =
      r.notModified && keep && e !== undefined
        ? { ...e, run }
        : { url: file.url, bytes: r.bytes, run, ...(r.sha256 !== undefined ? { sha256: r.sha256 } : {}) };
    if (!r.notModified) {
      if (r.etag !== undefined) next.etag = r.etag;
      if (r.lastModified !== undefined) next.lastModified = r.lastModified.toISOString();
      fs.chmodSync(data, 0o444);
    }
    fs.writeFileSync(`${metaPath}.tmp`, JSON.stringify(next));
    fs.renameSync(`${metaPath}.tmp`, metaPath);
    return data;
  } finally {
    release();
  }
}

function readEntry(p: string): Entry | undefined {
  try {
    return JSON.parse(fs.readFileSync(p, "utf8")) as Entry;
  } catch {
    return undefined;
  }
}

// Does the cached copy hash to the file's checksum? (No checksum: any complete copy will do.)
async function matches(data: string, checksum: string | undefined, e: Entry): Promise<boolean> {
  if (checksum === undefined) return true;
  const [algo, hex] = checksum.split(":") as ["sha256" | "md5", string];
  if (algo === "sha256" && e.sha256 !== undefined) return e.sha256 === hex;
  const h = createHash(algo);
  for await (const chunk of fs.createReadStream(data)) h.update(chunk as Buffer);
  return h.digest("hex") === hex;
}

// An exclusive lock file holding "<pid> <host>"; a holder that died on this host (or went silent long ago) loses it.
async function lock(p: string, url: string): Promise<() => void> {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const me = `${process.pid} ${os.hostname()}`;
  for (;;) {
    try {
      fs.writeFileSync(p, me, { flag: "wx" });
      return () => fs.rmSync(p, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new StagingError(`cannot lock the cache entry of ${url} (${p}): ${(err as Error).message}`, {
          url,
          cause: err,
        });
      }
    }
    if (stale(p)) {
      fs.rmSync(p, { force: true });
      continue;
    }
    await sleep(20);
  }
}

function stale(p: string): boolean {
  try {
    const [pid, host] = fs.readFileSync(p, "utf8").split(" ");
    if (host === os.hostname()) {
      try {
        process.kill(Number(pid), 0);
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === "ESRCH";
      }
    }
    return Date.now() - fs.statSync(p).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false; // gone or half-written: try again
  }
}
