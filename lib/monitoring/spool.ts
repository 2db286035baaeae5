/**
 * A SQLite store's spool: while the workflow keeps every core busy, the
 * writer appends the kernel's encoded batches, as they came, to a file of its
 * own beside the database (one write a batch, ~0.3 ms for 8,192 tasks,
 * against ~11 µs a task for SQLite's rows and indexes), and writes them into
 * the tables when the workflow slows. Which bytes are in the tables is kept in
 * the database (`spool.done_bytes`), moved in the same transaction as the
 * rows, so no batch is written twice or lost: a writer that dies leaves its
 * file for the next one, or the next reader (read.ts), to finish.
 *
 * A record: a 20-byte header (magic, then the byte lengths of the head and of
 * the three columns), the head (v8-serialized: sequence number, size, run,
 * string table, rare events, row counts), then the columns' bytes.
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as v8 from "node:v8";
import type { EncodedBatch } from "./event-log.js";

const MAGIC = 0x314c5053; // "SPL1"
const HEADER = 20;

/** A batch for the spool: its sequence number, its size in events, and the string table as of it. */
export interface SpoolBatch {
  seq: number;
  size: number;
  batch: EncodedBatch;
  strings: readonly string[];
}

/** A record read back: the batch (its `strings` the whole table as of it), where it ends in the file. */
export interface SpoolRecord {
  seq: number;
  size: number;
  batch: EncodedBatch;
  end: number;
}

type Head = Omit<EncodedBatch, "tasks" | "status" | "tries"> & { seq: number; size: number };

const bytes = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Appends a batch to the open spool file `fd`; returns the bytes written. Throws if the write falls short. */
export function appendRecord(fd: number, b: SpoolBatch): number {
  const { tasks, status, tries, ...rest } = b.batch;
  const head = v8.serialize({ ...rest, strings: [...b.strings], seq: b.seq, size: b.size } satisfies Head);
  const parts = [Buffer.alloc(HEADER), head, bytes(tasks), bytes(status), bytes(tries)];
  const h = parts[0]!;
  h.writeUInt32LE(MAGIC, 0);
  for (let i = 1; i < 5; i++) h.writeUInt32LE(parts[i]!.byteLength, 4 * i);
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const wrote = fs.writevSync(fd, parts);
  if (wrote !== total) throw new Error(`short write to the monitoring spool (${wrote} of ${total} bytes)`);
  return total;
}

/**
 * Reads whole records from `offset` on, until about `maxEvents` events (at least one record) or the end; a record
 * the writer has not finished writing is left for later. Throws naming the offset if the bytes there are not a record.
 */
export function readRecords(file: string, offset: number, maxEvents: number): SpoolRecord[] {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    const out: SpoolRecord[] = [];
    let at = offset;
    let events = 0;
    const h = Buffer.alloc(HEADER);
    while (at + HEADER <= size && (out.length === 0 || events < maxEvents)) {
      fs.readSync(fd, h, 0, HEADER, at);
      if (h.readUInt32LE(0) !== MAGIC) throw new SpoolCorruptError(`${file}: no spool record at byte ${at}`);
      const lengths = [4, 8, 12, 16].map((o) => h.readUInt32LE(o));
      const body = lengths.reduce((n, l) => n + l, 0);
      if (at + HEADER + body > size) break;
      const buf = Buffer.alloc(body);
      fs.readSync(fd, buf, 0, body, at + HEADER);
      let o = lengths[0]!;
      let head: Head;
      try {
        head = v8.deserialize(buf.subarray(0, o)) as Head;
      } catch (e) {
        throw new SpoolCorruptError(`${file}: the spool record at byte ${at} cannot be read: ${(e as Error).message}`);
      }
      // copied out: a Float64Array needs its offset aligned to 8 bytes
      const column = (len: number): Float64Array => {
        const a = new Float64Array(len / 8);
        new Uint8Array(a.buffer).set(buf.subarray(o, (o += len)));
        return a;
      };
      const { seq, size: n, ...rest } = head;
      const batch: EncodedBatch = {
        ...rest,
        tasks: column(lengths[1]!),
        status: column(lengths[2]!),
        tries: column(lengths[3]!),
      };
      at += HEADER + body;
      out.push({ seq, size: n, batch, end: at });
      events += n;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** The bytes at an offset are not a spool record (as opposed to a file that cannot be read at all). */
export class SpoolCorruptError extends Error {
  override name = "SpoolCorruptError";
}

/** Linux: a process's start time (clock ticks since boot), which tells a pid reused since apart; else "". */
function startTime(pid: number | "self"): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

/** Linux: this process's pid namespace (containers on one host name each have their own); else "". */
function pidNamespace(): string {
  try {
    return fs.readlinkSync("/proc/self/ns/pid");
  } catch {
    return "";
  }
}

/**
 * A writer session's name: where and in which process it runs (host, pid namespace, pid and the process's start
 * time), so a reader can tell whether it still does.
 */
export function sessionName(id: string): string {
  return [os.hostname(), pidNamespace(), process.pid, startTime("self"), id].join("/");
}

/**
 * Whether the writer that named itself `session` may still be running: it is, unless it ran on this host, in this
 * pid namespace, and its process is gone or is another one under the same pid. What cannot be checked (another
 * host or container, a name from elsewhere) counts as running.
 */
export function sessionAlive(session: string): boolean {
  const [host, ns, pid, started] = session.split("/");
  if (host !== os.hostname() || ns !== pidNamespace() || !/^\d+$/.test(pid ?? "")) return true;
  try {
    process.kill(Number(pid), 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
  return started === "" || started === startTime(Number(pid));
}
