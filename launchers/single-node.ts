/**
 * SingleNodeLauncher: starts tasksPerNode × nodesPerBlock copies of the
 * command in the background on the node the job script runs on, and waits
 * for them all (Parsl's default launcher).
 * @module
 */
import type { Launcher } from "./launcher.js";
import { describe } from "../lib/app.js";
import { ConfigError } from "../lib/errors.js";

/**
 * Copies in the background on one node; fails if all copies fail (or any, with `failOnAny`).
 * @example
 * ```ts
 * new LocalProvider({ launcher: new SingleNodeLauncher({ failOnAny: true }) });
 * ```
 */
export class SingleNodeLauncher implements Launcher {
  readonly name = "SingleNodeLauncher";
  readonly failOnAny: boolean;
  constructor(options: { failOnAny?: boolean } = {}) {
    const f: unknown = (options as { failOnAny?: unknown } | null)?.failOnAny;
    if (typeof options !== "object" || options === null || (f !== undefined && typeof f !== "boolean")) {
      throw new ConfigError(`SingleNodeLauncher(options): expected { failOnAny?: boolean }, got ${describe(options)}`);
    }
    this.failOnAny = options.failOnAny ?? false;
  }
  wrap(command: string, tasksPerNode: number, nodesPerBlock: number): string {
    const copies = tasksPerNode * nodesPerBlock;
    const verdict = this.failOnAny
      ? 'if [ "$FAILED" -gt 0 ]; then exit 1; fi'
      : 'if [ "$FAILED" -eq "$COPIES" ]; then exit 1; fi';
    return `export CORES=$(getconf _NPROCESSORS_ONLN)
COPIES=${copies}
PIDS=""
for COPY in $(seq 1 $COPIES); do
  ${command} &
  PIDS="$PIDS $!"
done
FAILED=0
for PID in $PIDS; do
  wait $PID || FAILED=$((FAILED + 1))
done
${verdict}
exit 0
`;
  }
}
