/**
 * Host key checking against an OpenSSH `known_hosts` file (plain and hashed
 * entries, `[host]:port` for ports other than 22).
 * @module
 */
import { createHmac } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The name a host has in known_hosts. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function matches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (salt === undefined || hash === undefined) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  return pattern.split(",").includes(name);
}

/** Keys (base64 blobs) listed for `name`, by key type. */
export function knownKeys(file: string, name: string): { type: string; key: string }[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const out: { type: string; key: string }[] = [];
  for (const line of text.split("\n")) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const parts = t.split(/\s+/);
    const offset = parts[0]!.startsWith("@") ? 1 : 0; // @cert-authority / @revoked markers
    if (offset === 1) continue;
    const [pattern, type, key] = parts;
    if (pattern && type && key && matches(pattern, name)) out.push({ type, key });
  }
  return out;
}

/** Appends a key for `name` (accept-new). */
export function addKnownKey(file: string, name: string, type: string, key: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.appendFileSync(file, `${name} ${type} ${key}\n`, { mode: 0o600 });
}

/** The key type in an SSH public key blob (its first length-prefixed string). */
export function keyType(blob: Buffer): string {
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString("latin1");
}
