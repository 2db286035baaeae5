/**
 * KubernetesProvider: blocks are pods, as Parsl's. Each block is ONE pod (as
 * in Parsl, whatever nodesPerBlock says, so here nodesPerBlock must be 1),
 * running the worker pool in the provider's image. All of this provider's
 * pods are polled with one list call (by label), cancelled by deleting them.
 *
 * The worker pools in the pods connect back to the executor's interchange, so
 * the HighThroughputExecutor's `address` must be reachable from the pods (a
 * routable IP of the submit host, or run the workflow itself in the cluster).
 * With `encrypted: true` the CurveZMQ keys the workers need are put in a
 * Secret per block, mounted read-only where the command expects them.
 * @module
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe } from "../../lib/app.js";
import { ConfigError, ProviderError } from "../../lib/errors.js";
import { checkOptionKeys } from "../../lib/options.js";
import { nullLogger, type Logger } from "../../lib/logging.js";
import { SingleNodeLauncher } from "../../launchers/single-node.js";
import {
  checkBlockOptions,
  isFinal,
  unknownJob,
  type BlockOptions,
  type JobStatus,
  type Provider,
  type ProviderContext,
} from "../provider.js";
import { KubeApi, KubeCallError } from "./client.js";
import {
  DNS_LABEL,
  DNS_SUBDOMAIN,
  checkVolumes,
  cpu,
  id,
  matching,
  mem,
  positive,
  resources,
  stringMap,
} from "./options.js";
import { CONTAINER, certSecret, podManifest } from "./pod.js";
import type { V1Pod } from "@kubernetes/client-node";

/** Options of {@link KubernetesProvider} (Parsl's, camelCase). */
export interface KubernetesProviderOptions extends Omit<BlockOptions, "launcher"> {
  /** The container image; it must have bash and be able to run the executor's `workerCommand`. */
  image: string;
  /** @default "default" */
  namespace?: string;
  /** CPU limit of a pod, in cores (a number, or a quantity like `"1500m"`). @default 2 */
  maxCpu?: number | string;
  /** Memory limit of a pod (`"500Mi"`, `"2Gi"`). @default "500Mi" */
  maxMem?: string;
  /** CPU request of a pod. @default 1 */
  initCpu?: number | string;
  /** Memory request of a pod. @default "250Mi" */
  initMem?: string;
  /** More resource requests, e.g. `{ "nvidia.com/gpu": "1" }`. */
  extraRequests?: Record<string, string | number>;
  /** More resource limits, e.g. `{ "nvidia.com/gpu": "1" }`. */
  extraLimits?: Record<string, string | number>;
  /** Prefix of pod names. @default "taskloom" */
  podName?: string;
  /** `runAsUser` of the container. */
  userId?: number | string;
  /** `runAsGroup` of the container (and the pod's fsGroup when it mounts the key Secret). */
  groupId?: number | string;
  /** `runAsNonRoot` of the container. */
  runAsNonRoot?: boolean;
  /** Name of an image pull secret (`imagePullSecrets`). */
  secret?: string;
  /** `[claimName, mountPath]` pairs of PersistentVolumeClaims to mount. */
  persistentVolumes?: [string, string][];
  serviceAccountName?: string;
  /** Annotations of each pod. */
  annotations?: Record<string, string>;
  /** A kubeconfig file. Default: `KUBECONFIG`, then `~/.kube/config`, then the in-cluster service account. */
  kubeconfig?: string;
  /** A kubeconfig context other than the current one. */
  context?: string;
  /** Seconds between status polls. @default 60 */
  statusPollingInterval?: number;
  /** Seconds an API call may take. @default 30 */
  requestTimeout?: number;
}

const KNOWN = [
  "image",
  "namespace",
  "initBlocks",
  "minBlocks",
  "maxBlocks",
  "nodesPerBlock",
  "parallelism",
  "workerInit",
  "maxCpu",
  "maxMem",
  "initCpu",
  "initMem",
  "extraRequests",
  "extraLimits",
  "podName",
  "userId",
  "groupId",
  "runAsNonRoot",
  "secret",
  "persistentVolumes",
  "serviceAccountName",
  "annotations",
  "kubeconfig",
  "context",
  "statusPollingInterval",
  "requestTimeout",
];

const WHERE = "KubernetesProvider";

// Container waiting reasons that do not clear up by waiting: the block has failed.
const STUCK = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CrashLoopBackOff",
]);
// The HighThroughputExecutor's own secret key: workers never need it, so it stays out of the cluster.
const SERVER_ONLY_KEYS = new Set(["interchange.key"]);

interface PodJob {
  jobName: string;
  last: JobStatus;
  /** We asked the API server to delete it. */
  deleted: boolean;
  /** The Secret holding the worker's keys, until it is deleted. */
  secret?: string | undefined;
}

/**
 * Blocks as Kubernetes pods.
 * @example
 * ```ts
 * new HighThroughputExecutor({
 *   address: "10.0.0.12", // reachable from the pods
 *   workerCommand: "taskloom",
 *   provider: new KubernetesProvider({ image: "registry.example.org/me/flow:1", namespace: "science",
 *     maxCpu: 4, maxMem: "8Gi", initCpu: 2, initMem: "4Gi", maxBlocks: 8 }),
 * });
 * ```
 */
export class KubernetesProvider implements Provider {
  readonly label = "kubernetes";
  readonly image: string;
  readonly namespace: string;
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly nodesPerBlock: number;
  readonly parallelism: number;
  /** The CPU limit, rounded down (at least 1): what HighThroughputExecutor sizes a pod's workers by. */
  readonly coresPerNode: number;
  /** The memory limit in MB. */
  readonly memPerNode: number;
  readonly statusPollingInterval: number;
  readonly requestTimeout: number;
  readonly workerInit: string;
  readonly podName: string;
  /** The `taskloom.io/run` label value of this provider's pods. */
  readonly runId = randomBytes(4).toString("hex");
  readonly #o: KubernetesProviderOptions;
  readonly #requests: Record<string, string>;
  readonly #limits: Record<string, string>;
  readonly #userId: number | undefined;
  readonly #groupId: number | undefined;
  readonly #jobs = new Map<string, PodJob>();
  #api: KubeApi | undefined;
  #logger: Logger = nullLogger;

  constructor(options: KubernetesProviderOptions) {
    checkOptionKeys(WHERE, options, KNOWN);
    const o = options;
    const b = checkBlockOptions(WHERE, {
      ...o,
      initBlocks: o.initBlocks ?? 4,
      maxBlocks: o.maxBlocks ?? 10,
    });
    if (b.nodesPerBlock !== 1) {
      throw new ConfigError(
        `${WHERE} options.nodesPerBlock: a block is one pod, so only 1 is allowed, got ${describe(o.nodesPerBlock)}`,
      );
    }
    this.initBlocks = b.initBlocks;
    this.minBlocks = b.minBlocks;
    this.maxBlocks = b.maxBlocks;
    this.nodesPerBlock = 1;
    this.parallelism = b.parallelism;
    this.image = matching("image", o.image, /^\S+$/, "an image reference without spaces (required)")!;
    this.namespace =
      matching("namespace", o.namespace, DNS_LABEL, "a namespace name (lowercase DNS label)") ?? "default";
    this.podName =
      matching(
        "podName",
        o.podName,
        /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/,
        "a lowercase DNS label of at most 40 characters",
      ) ?? "taskloom";
    for (const k of ["secret", "serviceAccountName"] as const)
      matching(k, o[k], DNS_SUBDOMAIN, "a Kubernetes object name");
    for (const k of ["kubeconfig", "context", "workerInit"] as const) {
      if (o[k] !== undefined && typeof o[k] !== "string") {
        throw new ConfigError(`${WHERE} options.${k}: expected a string, got ${describe(o[k])}`);
      }
    }
    this.workerInit = o.workerInit ?? "";
    this.statusPollingInterval = positive("statusPollingInterval", o.statusPollingInterval) ?? 60;
    this.requestTimeout = positive("requestTimeout", o.requestTimeout) ?? 30;
    const maxCpu = cpu("maxCpu", o.maxCpu ?? 2);
    const initCpu = cpu("initCpu", o.initCpu ?? 1);
    const maxMem = mem("maxMem", o.maxMem ?? "500Mi");
    const initMem = mem("initMem", o.initMem ?? "250Mi");
    if (initCpu.value > maxCpu.value) {
      throw new ConfigError(`${WHERE} options.initCpu (${initCpu.text}) must not exceed maxCpu (${maxCpu.text})`);
    }
    if (initMem.value > maxMem.value) {
      throw new ConfigError(`${WHERE} options.initMem (${initMem.text}) must not exceed maxMem (${maxMem.text})`);
    }
    this.coresPerNode = Math.max(1, Math.floor(maxCpu.value));
    this.memPerNode = Math.floor(maxMem.value / 2 ** 20);
    this.#requests = { cpu: initCpu.text, memory: initMem.text, ...resources("extraRequests", o.extraRequests) };
    this.#limits = { cpu: maxCpu.text, memory: maxMem.text, ...resources("extraLimits", o.extraLimits) };
    this.#userId = id("userId", o.userId);
    this.#groupId = id("groupId", o.groupId);
    if (o.runAsNonRoot !== undefined && typeof o.runAsNonRoot !== "boolean") {
      throw new ConfigError(`${WHERE} options.runAsNonRoot: expected true or false, got ${describe(o.runAsNonRoot)}`);
    }
    checkVolumes(o.persistentVolumes);
    if (o.annotations !== undefined) stringMap("annotations", o.annotations);
    this.#o = o;
  }

  /** Loads the client library and the kubeconfig (a ConfigError when either is missing). */
  async start(ctx: ProviderContext): Promise<void> {
    this.#logger = ctx.logger;
    this.#api ??= await KubeApi.connect({
      kubeconfig: this.#o.kubeconfig,
      context: this.#o.context,
      namespace: this.namespace,
      timeoutMs: this.requestTimeout * 1000,
    });
  }

  get #kube(): KubeApi {
    if (this.#api === undefined) throw new ProviderError(`${WHERE} used before start()`);
    return this.#api;
  }

  /** Labels of a block's pod and Secret; the run label selects every pod of this provider. */
  #labels(jobName: string): Record<string, string> {
    return {
      "app.kubernetes.io/managed-by": "taskloom",
      "taskloom.io/run": this.runId,
      "taskloom.io/block": dnsPart(jobName, 63),
    };
  }

  async submit(command: string, tasksPerNode: number, jobName: string): Promise<string> {
    const api = this.#kube;
    const certDir = /(?:^|\s)--cert-dir\s+(\S+)/.exec(command)?.[1];
    const certs = certDir === undefined ? undefined : readCerts(certDir);
    // One worker pool: exec it, so it is the container's main process and gets the TERM of a pod deletion.
    const launched = tasksPerNode === 1 ? `exec ${command}` : new SingleNodeLauncher().wrap(command, tasksPerNode, 1);
    const base = `${this.podName}-${dnsPart(jobName, 63 - this.podName.length - 10)}-${this.runId}`;
    let created: V1Pod | undefined;
    // A name clash (another run's pod, by chance or a reused runId) is retried with a fresh suffix.
    for (let attempt = 0; created === undefined; attempt++) {
      const name = attempt === 0 ? base : `${base.slice(0, 57)}-${randomBytes(2).toString("hex")}`;
      const body = podManifest({
        name,
        namespace: this.namespace,
        image: this.image,
        labels: this.#labels(jobName),
        annotations: this.#o.annotations ?? {},
        workerInit: this.workerInit,
        command: launched,
        requests: this.#requests,
        limits: this.#limits,
        env: { TASKLOOM_BLOCK: jobName },
        userId: this.#userId,
        groupId: this.#groupId,
        runAsNonRoot: this.#o.runAsNonRoot,
        secret: this.#o.secret,
        persistentVolumes: this.#o.persistentVolumes ?? [],
        serviceAccountName: this.#o.serviceAccountName,
        certs: certDir === undefined ? undefined : { secretName: `${name}-certs`, mountPath: certDir },
      });
      try {
        created = await api.createPod(body);
      } catch (e) {
        if (!(e instanceof KubeCallError && e.httpStatus === 409 && attempt < 2)) throw e;
      }
    }
    const name = created.metadata!.name!;
    const job: PodJob = { jobName, last: { state: "pending" }, deleted: false };
    this.#jobs.set(name, job);
    if (certs !== undefined) {
      const owner = created.metadata?.uid ? { name, uid: created.metadata.uid } : undefined;
      try {
        await api.createSecret(certSecret(`${name}-certs`, this.namespace, this.#labels(jobName), certs, owner));
        job.secret = `${name}-certs`;
      } catch (e) {
        // A pod without its keys could never connect: take it back.
        await api.deletePod(name).catch(() => false);
        job.deleted = true;
        job.last = { state: "failed", message: (e as Error).message };
        throw e;
      }
    }
    return name;
  }

  async status(jobIds: readonly string[]): Promise<JobStatus[]> {
    const live = jobIds.filter((id) => this.#jobs.has(id) && !isFinal(this.#jobs.get(id)!.last));
    if (live.length > 0) {
      const list = await this.#kube.listPods(`taskloom.io/run=${this.runId}`);
      const pods = new Map(list.items.map((p) => [p.metadata?.name ?? "", p]));
      for (const id of live) {
        const job = this.#jobs.get(id)!;
        job.last = this.#judge(id, job, pods.get(id));
        if (isFinal(job.last)) await this.#ended(id, job);
      }
    }
    return jobIds.map((id) => this.#jobs.get(id)?.last ?? unknownJob(id));
  }

  #judge(name: string, job: PodJob, pod: V1Pod | undefined): JobStatus {
    if (job.deleted) return { state: "cancelled" };
    if (pod === undefined) {
      return {
        state: "failed",
        message: `pod ${name} disappeared: it was deleted by someone else, or evicted and garbage-collected`,
      };
    }
    const logs = `see \`kubectl logs -n ${this.namespace} ${name}\``;
    const c = pod.status?.containerStatuses?.find((s) => s.name === CONTAINER);
    switch (pod.status?.phase) {
      case "Pending": {
        const w = c?.state?.waiting;
        if (w?.reason !== undefined && STUCK.has(w.reason)) {
          return { state: "failed", message: `pod ${name}: ${w.reason}${w.message ? `: ${w.message}` : ""}` };
        }
        const unschedulable = pod.status.conditions?.find((x) => x.type === "PodScheduled" && x.status === "False");
        const why = unschedulable?.message ?? w?.reason;
        return why === undefined ? { state: "pending" } : { state: "pending", message: why };
      }
      case "Running":
        return { state: "running" };
      case "Succeeded":
        return { state: "completed", exitCode: c?.state?.terminated?.exitCode ?? 0 };
      case "Failed": {
        const t = c?.state?.terminated;
        const parts = [
          t !== undefined ? `container exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ""}` : undefined,
          t?.message?.trim() || undefined,
          pod.status.reason !== undefined ? `${pod.status.reason}: ${pod.status.message ?? ""}`.trim() : undefined,
        ].filter((x) => x !== undefined);
        const st: JobStatus = {
          state: "failed",
          message: `pod ${name} failed: ${parts.join("; ") || "no reason given"}; ${logs}`,
        };
        if (t !== undefined) st.exitCode = t.exitCode;
        return st;
      }
      case "Unknown":
        return { state: "unknown", message: `pod ${name}: the node stopped reporting (phase Unknown)` };
      default:
        return { state: "unknown", message: `pod ${name}: phase ${describe(pod.status?.phase)}` };
    }
  }

  // A block that ended: its key Secret goes; a pod stuck pulling its image is deleted so it stops retrying.
  async #ended(name: string, job: PodJob): Promise<void> {
    if (job.last.state === "failed" && !job.deleted && job.last.exitCode === undefined) {
      await this.#kube.deletePod(name).catch(() => false);
    }
    if (job.secret === undefined) return;
    try {
      await this.#kube.deleteSecret(job.secret);
    } catch (e) {
      // Owned by the pod, so Kubernetes' garbage collector removes it anyway once the pod is gone.
      this.#logger.warn("could not delete a block's key Secret", { secret: job.secret, error: (e as Error).message });
    }
    job.secret = undefined;
  }

  /**
   * Deletes the pods of the blocks still live; true for each of them, also when the pod was already gone
   * (404): the block is not running either way, which is what a cancel asks. Ended or unknown ids: false.
   */
  async cancel(jobIds: readonly string[]): Promise<boolean[]> {
    const live = jobIds.filter((id) => this.#jobs.has(id) && !isFinal(this.#jobs.get(id)!.last));
    const errors: unknown[] = [];
    await Promise.all(
      live.map(async (id) => {
        const job = this.#jobs.get(id)!;
        try {
          await this.#kube.deletePod(id);
          job.deleted = true;
          job.last = { state: "cancelled" };
          await this.#ended(id, job);
        } catch (e) {
          errors.push(e);
        }
      }),
    );
    if (errors.length > 0) throw errors[0];
    return jobIds.map((id) => live.includes(id) && this.#jobs.get(id)!.deleted);
  }
}

// ---- helpers ----

/** `s` made a DNS label part: lowercase letters, digits and dashes, at most `max` characters. */
function dnsPart(s: string, max: number): string {
  const t = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, Math.max(1, max))
    .replace(/^-+|-+$/g, "");
  return t === "" ? "block" : t;
}

/** The files of the executor's key directory a worker needs, by name. */
function readCerts(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  try {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isFile() && !SERVER_ONLY_KEYS.has(e.name)) out[e.name] = fs.readFileSync(path.join(dir, e.name));
    }
  } catch (e) {
    throw new ProviderError(
      `${WHERE}: cannot read the worker keys in ${dir} for the pod's Secret: ${(e as Error).message}`,
    );
  }
  return out;
}
