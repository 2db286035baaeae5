/**
 * The app behind separate-task staging: one task fetches one remote file into
 * the executor's staging directory, and the app that reads it depends on it.
 * @module
 */
import { app } from "../app.js";
import type { File } from "../file.js";
import { cachedCopy } from "./cache.js";
import { defaultStagingDir, type StagingPlan } from "./settings.js";

/** @internal submitted by the kernel, pinned to the executor of the app that needs the file. */
export const stageInApp = app(
  async (file: File, plan: StagingPlan): Promise<File> =>
    file.stagedAt(await cachedCopy(file, plan.dir ?? defaultStagingDir(), plan.run)),
  { module: import.meta.url, name: "taskloom.stageIn" },
);
