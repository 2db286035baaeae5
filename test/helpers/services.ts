// Real services the suites need (SLURM, MPI, …), installed with apt and started by the recipes' scripts in
// test/services. As root they are set up on demand; under CI=true a service that cannot be set up fails the
// suite, elsewhere (no root) the suite is skipped with the reason.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { tmpDir } from "./tmp.js";

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "services");
const started = new Set<string>();
let aptUpdated = false;

function sh(script: string, env: NodeJS.ProcessEnv = {}): { ok: boolean; out: string } {
  const r = spawnSync("/bin/bash", ["-c", script], {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 300_000,
  });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

/** Installs (if missing) and starts a service with test/services/<name>-up.sh; stops it at process exit. */
export function ensureService(
  ctx: Mocha.Context,
  name: "slurm" | "mpi" | "gridengine" | "torque" | "ftp" | "postgres" | "chromium",
  probe: string,
): void {
  if (sh(probe).ok && started.has(name)) return;
  const fail = (why: string): never => {
    if (process.env.CI === "true") throw new Error(`${name} is needed and could not be set up: ${why}`);
    ctx.skip();
  };
  if (process.getuid?.() !== 0 && !sh(probe).ok) fail("not root, and it is not running");
  if (!aptUpdated && process.getuid?.() === 0) {
    sh("apt-get update -q");
    aptUpdated = true;
  }
  const up = sh(`bash ${path.join(DIR, `${name}-up.sh`)}`);
  if (!up.ok) fail(up.out.split("\n").slice(-10).join("\n"));
  if (!sh(probe).ok) fail(`${probe} still fails after ${name}-up.sh:\n${up.out.slice(-2000)}`);
  started.add(name);
}

/** Stops what ensureService started (by pidfile), e.g. in an `after` hook. */
export function stopService(name: "slurm" | "gridengine" | "torque" | "ftp" | "postgres"): void {
  if (!started.delete(name)) return;
  sh(`bash ${path.join(DIR, `${name}-down.sh`)}`);
}

/** True when Open MPI, MPICH and MPICH's headers (for mpicc) are there. */
export const MPI_PROBE = "command -v mpiexec.openmpi && command -v mpiexec.mpich && dpkg -s libmpich-dev";

/** A private sshd on a free loopback port (test/services/sshd-up.sh), for root, key-only. */
export interface Sshd {
  port: number;
  /** Holds hostkey(.pub), clientkey, authorized_keys, sshd.pid, sshd.log. */
  dir: string;
  stop(): void;
}

/** Starts an sshd for this suite; skipped (or, under CI, failed) where it cannot run. */
export function startSshd(ctx: Mocha.Context, dir: string, port: number): Sshd {
  const fail = (why: string): never => {
    if (process.env.CI === "true") throw new Error(`sshd is needed and could not be set up: ${why}`);
    ctx.skip();
  };
  if (process.getuid?.() !== 0) fail("not root");
  if (!aptUpdated && !sh("test -x /usr/sbin/sshd").ok) {
    sh("apt-get update -q");
    aptUpdated = true;
  }
  const up = sh(`bash ${path.join(DIR, "sshd-up.sh")}`, { SSHD_PORT: String(port), SSHD_DIR: dir });
  if (!up.ok) fail(up.out.split("\n").slice(-10).join("\n"));
  return { port, dir, stop: () => void sh(`kill "$(cat ${dir}/sshd.pid)" 2>/dev/null`) };
}

/** In a describe block: the service up for the block's tests and stopped after, with a temp dir removed after. */
export function serviceSuite(name: "slurm" | "gridengine" | "torque", probe: string): { dir: string } {
  const tmp = tmpDir();
  before(function () {
    ensureService(this, name, probe);
  });
  after(() => {
    stopService(name);
    tmp.remove();
  });
  return { dir: tmp.dir };
}

/** ftp-up.sh's state directory: port, user, password, anon/pub (anonymous, read-only) and home (the user's). */
export const FTP_STATE = "/tmp/taskloom-ftpd";
/** True when the suite's vsftpd answers. */
export const FTP_PROBE = `kill -0 "$(cat ${FTP_STATE}/vsftpd.pid)" && (exec 3<>/dev/tcp/127.0.0.1/$(cat ${FTP_STATE}/port)) 2>/dev/null`;
