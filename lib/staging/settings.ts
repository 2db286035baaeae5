/**
 * Where an executor stages remote files, and what a task carries to its
 * worker when it has some.
 * @module
 */
import * as os from "node:os";
import * as path from "node:path";
import { describe } from "../app.js";
import { ConfigError } from "../errors.js";

/**
 * `in-task`: the worker fetches a task's remote inputs just before running it, into a cache shared by the
 * node's workers, and uploads its remote outputs right after (Parsl's `HTTPInTaskStaging`).
 * `separate-task`: each remote input is fetched by a task of its own on the same executor that the app then
 * depends on (Parsl's `HTTPSeparateTaskStaging`); the staged copy must be where the app's worker can read it, so
 * `dir` should be on a file system the workers share. Outputs are always uploaded by the task itself.
 */
export type StagingMode = "in-task" | "separate-task";

/** An executor's `staging` option. */
export interface StagingOptions {
  /** @default "in-task" */
  mode?: StagingMode;
  /**
   * Directory of the download cache and of outputs waiting to be uploaded. @default in-task: a directory in the
   * worker node's temp dir; separate-task: `<runDir>/staging`
   */
  dir?: string;
}

/** Checked staging settings. */
export interface StagingSettings {
  readonly mode: StagingMode;
  readonly dir: string | undefined;
}

/** What a task with remote files carries to its worker. */
export interface StagingPlan {
  /** Cache and scratch directory; unset: `$TMPDIR/taskloom-staging-<uid>` on the worker's node. */
  readonly dir: string | undefined;
  /** This run's id: cache entries checked in this run are used without asking the server again. */
  readonly run: string;
}

/** Validates an executor's `staging` option. */
export function checkStagingOptions(where: string, v: unknown): StagingSettings {
  if (v === undefined) return { mode: "in-task", dir: undefined };
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError(`${where} options.staging: expected { mode?, dir? }, got ${describe(v)}`);
  }
  for (const k of Object.keys(v)) {
    if (k !== "mode" && k !== "dir") {
      throw new ConfigError(`${where} options.staging.${k}: unknown option; allowed: mode, dir`);
    }
  }
  const o = v as StagingOptions;
  if (o.mode !== undefined && o.mode !== "in-task" && o.mode !== "separate-task") {
    throw new ConfigError(
      `${where} options.staging.mode: expected "in-task" or "separate-task", got ${describe(o.mode)}`,
    );
  }
  if (o.dir !== undefined && !(typeof o.dir === "string" && o.dir !== "")) {
    throw new ConfigError(`${where} options.staging.dir: expected a directory path, got ${describe(o.dir)}`);
  }
  return { mode: o.mode ?? "in-task", dir: o.dir === undefined ? undefined : path.resolve(o.dir) };
}

/** The node-local staging directory: one per user, so a node's workers share its cache. */
export function defaultStagingDir(): string {
  return path.join(os.tmpdir(), `taskloom-staging-${os.userInfo().uid}`);
}
