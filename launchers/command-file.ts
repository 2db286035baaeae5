/**
 * Launchers that start the command through another program (srun, mpiexec,
 * …) first write it to `cmd_$JOBNAME.sh`, as Parsl's do, so that program runs
 * one plain script on every node. The file goes to `$TASKLOOM_SCRIPT_DIR` (the
 * run's `submit_scripts`, which providers export) or else the job's working
 * directory; its path is in `$TASKLOOM_CMD`.
 * @module
 */
import { describe } from "../lib/app.js";
import { ConfigError } from "../lib/errors.js";
import { checkOptionKeys } from "../lib/options.js";

/** Bash that writes `command` to `$TASKLOOM_CMD` (a quoted here-document: nothing in it is expanded now). */
export function commandFile(command: string): string {
  return `TASKLOOM_CMD="\${TASKLOOM_SCRIPT_DIR:-$PWD}/cmd_$JOBNAME.sh"
cat << 'TASKLOOM_CMD_EOF' > "$TASKLOOM_CMD"
${command}
TASKLOOM_CMD_EOF
chmod u+x "$TASKLOOM_CMD"
`;
}

/** Validates `{ overrides?: string }` options of a launcher and returns the overrides. */
export function overridesOf(launcher: string, options: unknown, extra: readonly string[] = []): string {
  checkOptionKeys(launcher, options, ["overrides", ...extra]);
  const o = (options as { overrides?: unknown }).overrides;
  if (o !== undefined && typeof o !== "string") {
    throw new ConfigError(`${launcher} options.overrides: expected a string of extra arguments, got ${describe(o)}`);
  }
  return o ?? "";
}

/** `a b  c` with empty parts dropped. */
export function words(...parts: (string | number)[]): string {
  return parts
    .map(String)
    .filter((p) => p !== "")
    .join(" ");
}
