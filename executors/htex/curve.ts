/**
 * CurveZMQ for HTEX (`encrypted: true`): one key pair for the interchange and
 * one shared by its clients (the workflow and every manager), written to
 * `<runDir>/<label>/certs` readable by the user only. The interchange runs a
 * ZAP handler that admits only the clients' key, so knowing the address is
 * not enough to submit or take tasks.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { curveKeyPair, Reply } from "zeromq";
import { ConfigError } from "../../lib/errors.js";

/** A Z85 key pair, as zeromq makes them. */
export interface KeyPair {
  publicKey: string;
  secretKey: string;
}

/** What a client (workflow or manager) needs to connect. */
export interface ClientKeys {
  serverPublic: string;
  client: KeyPair;
}

/** Makes fresh keys and writes them to `dir` (0700, files 0600). */
export function writeCerts(dir: string): { server: KeyPair; client: KeyPair } {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const server = curveKeyPair();
  const client = curveKeyPair();
  const write = (name: string, v: unknown): void =>
    fs.writeFileSync(path.join(dir, name), JSON.stringify(v) + "\n", { mode: 0o600 });
  write("interchange.key", server);
  write("client.key", client);
  write("interchange.public", { publicKey: server.publicKey });
  return { server, client };
}

/** Reads what a manager needs from a cert dir made by {@link writeCerts}; a clear error if it cannot. */
export function readClientKeys(dir: string): ClientKeys {
  const read = (name: string): Record<string, unknown> => {
    const file = path.join(dir, name);
    try {
      return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`cannot read the CurveZMQ key ${file}: ${(e as Error).message}`);
    }
  };
  const server = read("interchange.public");
  const client = read("client.key");
  const ok = (v: unknown): v is string => typeof v === "string" && v.length === 40;
  if (!ok(server.publicKey) || !ok(client.publicKey) || !ok(client.secretKey)) {
    throw new ConfigError(`the CurveZMQ keys in ${dir} are malformed (expected 40-character Z85 keys)`);
  }
  return { serverPublic: server.publicKey, client: { publicKey: client.publicKey, secretKey: client.secretKey } };
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** Z85 text to bytes (ZAP hands keys over as 32 raw bytes). */
export function z85Decode(s: string): Buffer {
  if (s.length % 5 !== 0) throw new RangeError("Z85 text length must be a multiple of 5");
  const out = Buffer.alloc((s.length / 5) * 4);
  for (let i = 0; i < s.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = Z85.indexOf(s[i + j]!);
      if (d < 0) throw new RangeError(`not a Z85 character: ${s[i + j]}`);
      v = v * 85 + d;
    }
    out.writeUInt32BE(v >>> 0, (i / 5) * 4);
  }
  return out;
}

/**
 * Answers ZAP requests for every CURVE socket of this process: only `allowed`
 * (Z85 public key) gets in; `onDenied` hears of the others.
 */
export async function runZapHandler(allowed: string, onDenied: (address: string) => void): Promise<Reply> {
  const key = z85Decode(allowed);
  const zap = new Reply({ linger: 0 });
  await zap.bind("inproc://zeromq.zap.01");
  void (async () => {
    for await (const frames of zap) {
      const [version, requestId, , address, , mechanism, credentials] = frames;
      const ok = mechanism?.toString() === "CURVE" && credentials !== undefined && key.equals(credentials);
      if (!ok) onDenied(address?.toString() ?? "?");
      await zap.send([version ?? "1.0", requestId ?? "", ok ? "200" : "400", ok ? "OK" : "unknown key", "", ""]);
    }
  })().catch(() => {});
  return zap;
}
