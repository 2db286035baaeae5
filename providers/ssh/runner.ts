/**
 * SSHRunner: a provider's commands run on another host (a cluster's login
 * node) over SSH, and its job scripts are pushed there by SFTP. One
 * connection, opened on first use, kept alive, and opened again if it drops.
 * Host keys are checked against `known_hosts`.
 *
 * @example
 * ```ts
 * const login = new SSHRunner({ host: "login.cluster.edu", username: "me",
 *   privateKey: "~/.ssh/id_ed25519", remoteDir: "/scratch/me/taskloom" });
 * new SlurmProvider({ channel: login, partition: "debug" });
 * ```
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client, type ConnectConfig } from "ssh2";
import { describe } from "../../lib/app.js";
import { checkOptionKeys } from "../../lib/options.js";
import { ConfigError, ProviderError } from "../../lib/errors.js";
import { quote, type CommandResult, type CommandRunner, type RunOptions } from "../runner.js";
import { addKnownKey, hostEntryName, keyType, knownKeys } from "./known-hosts.js";

/** Options of {@link SSHRunner}. */
export interface SSHOptions {
  host: string;
  /** @default 22 */
  port?: number;
  /** @default the local user name */
  username?: string;
  /** Path of a private key file (`~` allowed). Without one, the agent at `SSH_AUTH_SOCK` is used. */
  privateKey?: string;
  passphrase?: string;
  /** Agent socket path. @default process.env.SSH_AUTH_SOCK */
  agent?: string;
  /** @default ~/.ssh/known_hosts */
  knownHosts?: string;
  /**
   * `strict`: the host's key must be in known_hosts; `accept-new`: an unknown host's key is added, a changed
   * one refused; `off`: no check (tests only).
   * @default "strict"
   */
  hostKeyCheck?: "strict" | "accept-new" | "off";
  /** Seconds between keepalives. @default 15 */
  keepaliveInterval?: number;
  /** Seconds to wait for the connection. @default 20 */
  connectTimeout?: number;
  /** Directory on the host for job scripts and their output. @default the same path as the local run dir */
  remoteDir?: string;
}

const KNOWN = [
  "host",
  "port",
  "username",
  "privateKey",
  "passphrase",
  "agent",
  "knownHosts",
  "hostKeyCheck",
  "keepaliveInterval",
  "connectTimeout",
  "remoteDir",
];

const home = (p: string): string => (p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p);

/** Runs commands on a host over SSH. */
export class SSHRunner implements CommandRunner {
  readonly label: string;
  readonly remoteDir: string | undefined;
  readonly #o: Required<Pick<SSHOptions, "host" | "port" | "username" | "hostKeyCheck" | "knownHosts">> & SSHOptions;
  #conn: Promise<Client> | undefined;

  constructor(options: SSHOptions) {
    checkOptionKeys("SSHRunner", options, KNOWN, "an object with host");
    if (typeof options.host !== "string" || !/^\S+$/.test(options.host)) {
      throw new ConfigError(`SSHRunner options.host: expected a host name or address, got ${describe(options.host)}`);
    }
    const port = options.port ?? 22;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`SSHRunner options.port: expected an integer from 1 to 65535, got ${describe(port)}`);
    }
    const check = options.hostKeyCheck ?? "strict";
    if (!["strict", "accept-new", "off"].includes(check)) {
      throw new ConfigError(
        `SSHRunner options.hostKeyCheck: expected "strict", "accept-new" or "off", got ${describe(check)}`,
      );
    }
    if (options.privateKey !== undefined && !fs.existsSync(home(options.privateKey))) {
      throw new ConfigError(`SSHRunner options.privateKey: no such file ${options.privateKey}`);
    }
    this.#o = {
      ...options,
      port,
      username: options.username ?? os.userInfo().username,
      hostKeyCheck: check,
      knownHosts: home(options.knownHosts ?? "~/.ssh/known_hosts"),
    };
    this.label = `ssh:${this.#o.username}@${options.host}:${port}`;
    this.remoteDir = options.remoteDir;
  }

  #connect(): Promise<Client> {
    if (this.#conn) return this.#conn;
    const o = this.#o;
    const name = hostEntryName(o.host, o.port);
    let refused: string | undefined;
    const cfg: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.username,
      readyTimeout: (o.connectTimeout ?? 20) * 1000,
      keepaliveInterval: (o.keepaliveInterval ?? 15) * 1000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer): boolean => {
        if (o.hostKeyCheck === "off") return true;
        const type = keyType(key);
        const b64 = key.toString("base64");
        const known = knownKeys(o.knownHosts, name);
        if (known.some((k) => k.key === b64)) return true;
        if (known.length === 0 && o.hostKeyCheck === "accept-new") {
          addKnownKey(o.knownHosts, name, type, b64);
          return true;
        }
        refused =
          known.length === 0
            ? `host ${name} is not in ${o.knownHosts} (add its key, or use hostKeyCheck: "accept-new")`
            : `the ${type} key of ${name} does not match the one in ${o.knownHosts}: refusing to connect`;
        return false;
      },
    };
    if (o.privateKey !== undefined) cfg.privateKey = fs.readFileSync(home(o.privateKey));
    if (o.passphrase !== undefined) cfg.passphrase = o.passphrase;
    const agent = o.agent ?? process.env.SSH_AUTH_SOCK;
    if (agent) cfg.agent = agent;
    const conn = new Promise<Client>((resolve, reject) => {
      const c = new Client();
      c.on("ready", () => resolve(c));
      c.on("error", (e: Error & { level?: string }) => {
        this.#conn = undefined;
        const why =
          refused ??
          (e.level === "client-authentication" ? `authentication as ${o.username} failed (${e.message})` : e.message);
        reject(new ProviderError(`cannot connect to ${this.label}: ${why}`));
      });
      // A dropped connection is opened again by the next command.
      c.on("close", () => {
        if (this.#conn === conn) this.#conn = undefined;
      });
      c.connect(cfg);
    });
    this.#conn = conn;
    return conn;
  }

  async run(argv: readonly string[], options: RunOptions): Promise<CommandResult> {
    const shown = argv.map(quote).join(" ");
    const command = options.cwd ? `cd ${quote(options.cwd)} && ${shown}` : shown;
    const c = await this.#connect();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ProviderError(`\`${shown}\` on ${this.label} did not finish within ${options.timeoutMs / 1000} s`));
        stream?.close();
      }, options.timeoutMs);
      let stream: import("ssh2").ClientChannel | undefined;
      c.exec(command, (err, s) => {
        if (err) {
          clearTimeout(timer);
          reject(new ProviderError(`cannot run \`${shown}\` on ${this.label}: ${err.message}`));
          return;
        }
        stream = s;
        let stdout = "";
        let stderr = "";
        s.on("data", (d: Buffer) => (stdout += d.toString()));
        s.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        s.on("close", (code: number | null, signal?: string) => {
          clearTimeout(timer);
          resolve({ code: code ?? (signal ? 128 + 9 : 255), stdout, stderr });
        });
        s.end(options.stdin ?? "");
      });
    });
  }

  async stage(localPath: string): Promise<string> {
    const remote = this.remoteDir !== undefined ? path.posix.join(this.remoteDir, path.basename(localPath)) : localPath;
    const mk = await this.run(["mkdir", "-p", path.posix.dirname(remote)], { timeoutMs: 30_000 });
    if (mk.code !== 0)
      throw new ProviderError(`cannot create ${path.posix.dirname(remote)} on ${this.label}: ${mk.stderr.trim()}`);
    const c = await this.#connect();
    await new Promise<void>((resolve, reject) => {
      c.sftp((err, sftp) => {
        if (err) return reject(new ProviderError(`SFTP to ${this.label} failed: ${err.message}`));
        sftp.fastPut(localPath, remote, { mode: 0o755 }, (e) => {
          sftp.end();
          if (e) reject(new ProviderError(`cannot copy ${localPath} to ${this.label}:${remote}: ${e.message}`));
          else resolve();
        });
      });
    });
    return remote;
  }

  async close(): Promise<void> {
    const c = this.#conn;
    this.#conn = undefined;
    if (c) (await c.catch(() => undefined))?.end();
  }
}
