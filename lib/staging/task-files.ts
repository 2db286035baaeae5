/**
 * In-task staging, on the worker: a task's remote inputs are fetched (through
 * the node cache) before it runs and it sees local copies; its remote outputs
 * and stdout/stderr get local paths to write to, and are uploaded after it
 * succeeded. Runs only for tasks the kernel marked as having remote files.
 * @module
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ShellSpec } from "../../executors/executor.js";
import { findCallOptions } from "../call-options.js";
import { StagingError } from "../errors.js";
import { File } from "../file.js";
import { cachedCopy } from "./cache.js";
import { remoteInputs, replaceInputs } from "./remote-files.js";
import { defaultStagingDir, type StagingPlan } from "./settings.js";
import { sendUrl } from "./transfer.js";

/** A task's arguments and shell spec with local paths, and what to do when it ends. */
export interface StagedTask {
  args: unknown[];
  shell: ShellSpec | undefined;
  /** After the task: uploads its remote outputs if it succeeded, then removes their local copies. */
  finish(ok: boolean): Promise<void>;
}

/** Stages in the remote inputs of task `id` and gives its remote outputs local paths. */
export async function stageTask(
  id: number,
  args: unknown[],
  shell: ShellSpec | undefined,
  plan: StagingPlan,
): Promise<StagedTask> {
  const dir = plan.dir ?? defaultStagingDir();
  const scratch = path.join(dir, "out", `${process.pid}-${id}-${randomBytes(4).toString("hex")}`);
  const uploads = new Map<string, { local: string; url: string }>();
  const out = (f: File, slot: string): File => {
    const local = path.join(scratch, slot, f.filename || "data");
    uploads.set(f.url, { local, url: f.url });
    return f.stagedAt(local);
  };
  // Outputs and streams first: a File listed there is made by the task, not read by it.
  const opts = findCallOptions(args);
  let callOpts: Record<string, unknown> | undefined;
  if (opts !== undefined) {
    const o = { ...opts };
    if (Array.isArray(o.outputs)) {
      o.outputs = o.outputs.map((f: unknown, i) => (f instanceof File && f.remote ? out(f, String(i)) : f));
    }
    for (const k of ["stdout", "stderr"] as const) {
      const f = o[k];
      if (f instanceof File && f.remote) o[k] = out(f, k);
    }
    callOpts = o;
  }
  const staged = callOpts === undefined ? args : [...args.slice(0, -1), callOpts];
  const inputs = remoteInputs(staged);
  const local = new Map<string, File>();
  await fs.promises.mkdir(dir, { recursive: true });
  await Promise.all(
    [...inputs.values()].map(async (f) => local.set(f.url, f.stagedAt(await cachedCopy(f, dir, plan.run)))),
  );
  const mapped = local.size > 0 ? (replaceInputs(staged, local) as unknown[]) : staged;
  for (const { local: p } of uploads.values()) await fs.promises.mkdir(path.dirname(p), { recursive: true });
  const toLocal = (p: string): string => uploads.get(p)?.local ?? p;
  const spec: ShellSpec | undefined = shell && {
    stdout: shell.stdout && [toLocal(shell.stdout[0]), shell.stdout[1]],
    stderr: shell.stderr && [toLocal(shell.stderr[0]), shell.stderr[1]],
    outputs: shell.outputs.map(toLocal),
  };
  return {
    args: mapped,
    shell: spec,
    async finish(ok: boolean): Promise<void> {
      try {
        if (!ok) return;
        for (const u of uploads.values()) {
          if (!fs.existsSync(u.local)) {
            throw new StagingError(`the task wrote no file for its output ${u.url} (expected at ${u.local})`, {
              url: u.url,
            });
          }
        }
        await Promise.all([...uploads.values()].map((u) => sendUrl(u.local, u.url)));
      } finally {
        await fs.promises.rm(scratch, { recursive: true, force: true });
      }
    },
  };
}
