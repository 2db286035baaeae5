#!/usr/bin/env node
/**
 * The `taskloom` command. Each subcommand lives in its own file.
 * @module
 */
import { runCommand } from "./run.js";
import { interchangeCommand } from "./interchange.js";
import { workerPoolCommand } from "./worker-pool.js";

const USAGE = `usage: taskloom <command> [arguments]

commands:
  run [--quiet] <script> [args...]
                                 run a workflow script (TypeScript runs through tsx), with a
                                 progress line on stderr unless --quiet
  trace [db] [--run ID]          a run's tries as Chrome/Perfetto trace JSON on stdout
                                 (db: a monitoring.db or run directory; default: the newest
                                 ./runinfo/NNN/monitoring.db)
  explain <taskId> [db] [--run ID]
                                 why a task is waiting or failed
  monitor [db] [--port N] [--host H]
                                 serve the web dashboard of a monitoring store (default
                                 http://127.0.0.1:8080/) until Ctrl-C
  worker-pool --url tcp://…      a node's manager for HighThroughputExecutor (started by providers)
  interchange                    internal: HighThroughputExecutor's interchange process
  help                           show this text
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  run: runCommand,
  // loaded on demand: they need the native SQLite module, `run` does not
  trace: async (args) => (await import("./trace.js")).traceCommand(args),
  explain: async (args) => (await import("./explain.js")).explainCommand(args),
  monitor: async (args) => (await import("./monitor.js")).monitorCommand(args),
  "worker-pool": workerPoolCommand,
  interchange: () => interchangeCommand(),
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    process.stdout.write(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  const run = commands[cmd];
  if (run === undefined) {
    process.stderr.write(
      `taskloom: unknown command "${cmd}"; available: ${Object.keys(commands).join(", ")}\n\n${USAGE}`,
    );
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`taskloom: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
