/**
 * `~/.netrc` credentials, as ftp(1) and curl read them: tokens separated by
 * white space; `machine <host>` or `default` starts an entry; `login`,
 * `password` and `account` fill it; `macdef` skips a macro up to the next
 * blank line. Parsed here because it is small and the npm parsers differ on
 * `default` and macros.
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** One `machine` (or the `default`) entry. */
export interface NetrcEntry {
  /** Host name, or `undefined` for the `default` entry. */
  machine: string | undefined;
  login?: string;
  password?: string;
  account?: string;
}

/**
 * Parses netrc text into its entries, in file order.
 *
 * @example
 * ```ts
 * parseNetrc("machine ftp.example.org login alice password s3cret");
 * // [{ machine: "ftp.example.org", login: "alice", password: "s3cret" }]
 * ```
 */
export function parseNetrc(text: string): NetrcEntry[] {
  const entries: NetrcEntry[] = [];
  let cur: NetrcEntry | undefined;
  // Tokens with their positions, so `macdef` can skip to the blank line that ends the macro.
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const tok = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!;
    const next = (): string | undefined => {
      const n = re.exec(text);
      return n ? (n[1] !== undefined ? n[1].replace(/\\(.)/g, "$1") : n[2]) : undefined;
    };
    if (tok === "machine") entries.push((cur = { machine: next() }));
    else if (tok === "default") entries.push((cur = { machine: undefined }));
    else if (tok === "macdef") {
      const end = text.indexOf("\n\n", re.lastIndex);
      re.lastIndex = end === -1 ? text.length : end + 2;
    } else if (cur && (tok === "login" || tok === "password" || tok === "account")) {
      const v = next();
      if (v !== undefined) cur[tok] = v;
    }
  }
  return entries;
}

/**
 * Credentials for `host` from a netrc file (`$NETRC`, else `~/.netrc`): the
 * first `machine` entry for the host, else the `default` entry, else
 * `undefined` (also when the file does not exist).
 *
 * @example
 * ```ts
 * const c = netrcFor("ftp.example.org");
 * if (c?.login) await client.access({ host: "ftp.example.org", user: c.login, password: c.password });
 * ```
 */
export function netrcFor(host: string, file = defaultNetrcPath()): NetrcEntry | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const entries = parseNetrc(text);
  const h = host.toLowerCase();
  return entries.find((e) => e.machine?.toLowerCase() === h) ?? entries.find((e) => e.machine === undefined);
}

/** `$NETRC` if set, else `~/.netrc`. */
export function defaultNetrcPath(): string {
  return process.env.NETRC || path.join(os.homedir(), ".netrc");
}
