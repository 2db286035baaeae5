/**
 * `taskloom monitor [db] [--port N] [--host H]`: serves the web dashboard of
 * a monitoring store until SIGINT or SIGTERM.
 * @module
 */
import { once } from "node:events";
import { ConfigError } from "../errors.js";
import { findStore } from "../monitoring/read.js";
import { startDashboard } from "../dashboard/server.js";
import { parseIntIn, ParamError } from "../dashboard/params.js";
import { parseStoreArgs, UsageError } from "./trace.js";

const MONITOR_USAGE =
  "usage: taskloom monitor [monitoring.db | run dir] [--port N (default 8080, 0 = any free)] [--host H (default 127.0.0.1)]";

/** `--port`'s value; a bad one is a UsageError (a command-line mistake, not the dashboard's 400). */
function portOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseIntIn(v, "--port", 0, 65535);
  } catch (e) {
    throw e instanceof ParamError ? new UsageError(`${e.message} (0 = any free port)`) : e;
  }
}

/** The `monitor` subcommand; resolves with the exit code once a signal stops it. */
export async function monitorCommand(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${MONITOR_USAGE}\n`);
    return 0;
  }
  let dashboard;
  try {
    const a = parseStoreArgs(args, 1, { port: "N", host: "H" });
    const port = portOf(a.options.port);
    dashboard = await startDashboard({ store: findStore(a.positional[0]), host: a.options.host, port });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`taskloom monitor: ${e.message}\n${MONITOR_USAGE}\n`);
      return 2;
    }
    if (!(e instanceof ConfigError)) throw e;
    // as trace and explain: 2 for a bad command line, 1 for a store that cannot be served
    process.stderr.write(`taskloom monitor: ${e.message}\n`);
    return 1;
  }
  const stop = new AbortController();
  const stopped = Promise.race([
    once(process, "SIGINT", { signal: stop.signal }).then(() => "SIGINT"),
    once(process, "SIGTERM", { signal: stop.signal }).then(() => "SIGTERM"),
  ]);
  // listening for signals before the URL is out: whoever reads it may stop us at once
  process.stdout.write(`taskloom monitor: ${dashboard.url}\n`);
  const signal = await stopped;
  stop.abort();
  process.stderr.write(`taskloom monitor: ${signal}, stopping\n`);
  await dashboard.close();
  return 0;
}
