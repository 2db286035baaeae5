/**
 * The app behind separate-task staging: one task fetches one remote file into
 * the executor's staging directory, and the app that reads it depends on it.
 * @module
 */
import { app } from "../app.js";
import { File, type FileJSON } from "../file.js";
import { cachedCopy } from "./cache.js";
import { defaultStagingDir, type StagingPlan } from "./settings.js";

/**
 * @internal submitted by the kernel, pinned to the executor of the app that needs the file. It takes the file as
 * plain JSON (not a File), so the kernel sees no remote file to stage for the staging task itself.
 */
export const stageInApp = app(
  async (json: FileJSON, plan: StagingPlan): Promise<File> => {
    const file = File.revive(json);
    return file.stagedAt(await cachedCopy(file, plan.dir ?? defaultStagingDir(), plan.run));
  },
  { module: import.meta.url, name: "taskloom.stageIn" },
);
