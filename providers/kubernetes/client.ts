/**
 * A thin wrapper over `@kubernetes/client-node` (an optional dependency, loaded
 * on first use) for the few core/v1 calls KubernetesProvider makes. Every call
 * has a timeout (the request is aborted), 5xx/429 answers are retried with
 * backoff, and failures become ProviderErrors naming the call, the namespace,
 * the HTTP status and the API server's own Status message.
 * @module
 */
import type * as K from "@kubernetes/client-node";
import { ConfigError, ProviderError } from "../../lib/errors.js";

/** The client library's module. */
export type KubeModule = typeof K;

/** Loads `@kubernetes/client-node`; a ConfigError saying how to install it when it is missing. */
export async function loadClient(specifier = "@kubernetes/client-node"): Promise<KubeModule> {
  try {
    return (await import(specifier)) as KubeModule;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new ConfigError(
        `KubernetesProvider needs the Kubernetes client library, which is not installed: ` +
          `run \`npm install @kubernetes/client-node@1\` (1.x; 2.x needs Node 22)`,
      );
    }
    throw e;
  }
}

/** Where and how to connect. */
export interface KubeConnectOptions {
  /** A kubeconfig file; default: KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
  kubeconfig?: string | undefined;
  /** A context of the kubeconfig other than its current one. */
  context?: string | undefined;
  namespace: string;
  /** Per call, in ms. */
  timeoutMs: number;
  /** Retries of a 5xx/429 answer. @default 3 */
  retries?: number;
  /** First backoff in ms, doubled each retry. @default 250 */
  backoffMs?: number;
}

/** The Status object the API server sends with an error. */
interface ApiStatus {
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string };
}

/** A failed API call: its HTTP status (0 when there was no answer) and the server's Status. */
export class KubeCallError extends ProviderError {
  constructor(
    message: string,
    readonly httpStatus: number,
    readonly reason: string | undefined,
  ) {
    super(message);
  }
}

const HINTS: Record<number, string> = {
  401: "the API server did not accept the kubeconfig's credentials (expired token or certificate?)",
  403: "the kubeconfig's user lacks RBAC permission for this; ask for a Role granting it in this namespace",
};

/** The core/v1 calls the provider makes, in one namespace. */
export class KubeApi {
  readonly namespace: string;
  /** The API server's URL, for messages. */
  readonly server: string;
  readonly #k: KubeModule;
  readonly #core: K.CoreV1Api;
  readonly #o: KubeConnectOptions;

  private constructor(k: KubeModule, core: K.CoreV1Api, server: string, o: KubeConnectOptions) {
    this.#k = k;
    this.#core = core;
    this.server = server;
    this.namespace = o.namespace;
    this.#o = o;
  }

  /** Loads the library and the kubeconfig; a ConfigError when either is missing or unusable. */
  static async connect(o: KubeConnectOptions): Promise<KubeApi> {
    const k = await loadClient();
    const kc = new k.KubeConfig();
    try {
      if (o.kubeconfig !== undefined) kc.loadFromFile(o.kubeconfig);
      else kc.loadFromDefault();
    } catch (e) {
      throw new ConfigError(
        `KubernetesProvider options.kubeconfig: cannot load ${o.kubeconfig ?? "the default kubeconfig"}: ${(e as Error).message}`,
      );
    }
    if (o.context !== undefined) {
      if (kc.getContextObject(o.context) === null) {
        const known = kc.getContexts().map((c) => c.name);
        throw new ConfigError(
          `KubernetesProvider options.context: no context "${o.context}" in the kubeconfig; it has: ${known.join(", ") || "(none)"}`,
        );
      }
      kc.setCurrentContext(o.context);
    }
    const cluster = kc.getCurrentCluster();
    if (cluster === null) {
      throw new ConfigError(
        `KubernetesProvider: the kubeconfig (${o.kubeconfig ?? "default"}) has no cluster for context "${kc.getCurrentContext()}"`,
      );
    }
    return new KubeApi(k, kc.makeApiClient(k.CoreV1Api), cluster.server, o);
  }

  createPod(body: K.V1Pod): Promise<K.V1Pod> {
    const name = body.metadata?.name ?? "";
    return this.#call(`create pod "${name}"`, (opt) =>
      this.#core.createNamespacedPod({ namespace: this.namespace, body }, opt),
    );
  }

  listPods(labelSelector: string): Promise<K.V1PodList> {
    return this.#call(`list pods (labelSelector ${labelSelector})`, (opt) =>
      this.#core.listNamespacedPod({ namespace: this.namespace, labelSelector }, opt),
    );
  }

  /** Deletes a pod; false when it was already gone (404). */
  deletePod(name: string): Promise<boolean> {
    return this.#gone(`delete pod "${name}"`, (opt) =>
      this.#core.deleteNamespacedPod({ name, namespace: this.namespace }, opt),
    );
  }

  createSecret(body: K.V1Secret): Promise<K.V1Secret> {
    return this.#call(`create secret "${body.metadata?.name ?? ""}"`, (opt) =>
      this.#core.createNamespacedSecret({ namespace: this.namespace, body }, opt),
    );
  }

  /** Deletes a secret; false when it was already gone (404). */
  deleteSecret(name: string): Promise<boolean> {
    return this.#gone(`delete secret "${name}"`, (opt) =>
      this.#core.deleteNamespacedSecret({ name, namespace: this.namespace }, opt),
    );
  }

  async #gone(what: string, run: (opt: K.ConfigurationOptions) => Promise<unknown>): Promise<boolean> {
    try {
      await this.#call(what, run);
      return true;
    } catch (e) {
      if (e instanceof KubeCallError && e.httpStatus === 404 && e.reason === "NotFound") return false;
      throw e;
    }
  }

  async #call<T>(what: string, run: (opt: K.ConfigurationOptions) => Promise<T>): Promise<T> {
    const retries = this.#o.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#once(run);
      } catch (e) {
        const err = this.#error(what, e, attempt);
        // The API server (or a proxy before it) is briefly unwell: try again before giving up.
        if (attempt < retries && (err.httpStatus >= 500 || err.httpStatus === 429)) {
          await new Promise((r) => setTimeout(r, (this.#o.backoffMs ?? 250) * 2 ** attempt));
          continue;
        }
        throw err;
      }
    }
  }

  // One request, aborted after timeoutMs (the abort closes the socket, so a silent server cannot hold us).
  async #once<T>(run: (opt: K.ConfigurationOptions) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const Observable = this.#k.Observable;
    const opt: K.ConfigurationOptions = {
      middleware: [
        {
          pre: (ctx) => {
            ctx.setSignal(ac.signal);
            return new Observable(Promise.resolve(ctx));
          },
          post: (ctx) => new Observable(Promise.resolve(ctx)),
        },
      ],
      middlewareMergeStrategy: "append",
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new TimedOut());
      }, this.#o.timeoutMs);
    });
    try {
      return await Promise.race([run(opt), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #error(what: string, e: unknown, attempt: number): KubeCallError {
    const where = `KubernetesProvider: ${what} in namespace "${this.namespace}"`;
    const tries = attempt > 0 ? ` (after ${attempt + 1} attempts)` : "";
    if (e instanceof TimedOut || (e as { name?: string }).name === "AbortError") {
      return new KubeCallError(
        `${where} got no answer from ${this.server} within ${this.#o.timeoutMs / 1000} s (options.requestTimeout)`,
        0,
        undefined,
      );
    }
    if (!(e instanceof this.#k.ApiException)) {
      return new KubeCallError(
        `${where} failed: cannot reach the API server at ${this.server}: ${(e as Error).message}`,
        0,
        undefined,
      );
    }
    const code = e.code;
    const st = parseStatus(e.body);
    // Some answers (401) reach us without their body: then the client's own label ("Unauthorized") is all there is.
    const label = /^Message: (.*)$/m.exec(e.message)?.[1];
    const text = typeof e.body === "string" && e.body.trim() !== "" ? e.body.trim().slice(0, 300) : undefined;
    const message = st?.message ?? text ?? label ?? "(no message)";
    let hint = HINTS[code];
    if (code === 404 && st?.details?.kind === "namespaces") {
      hint = `namespace "${this.namespace}" does not exist (options.namespace)`;
    } else if (code === 409 && st?.reason === "AlreadyExists") {
      hint = "an object of that name already exists";
    }
    return new KubeCallError(
      `${where} failed with HTTP ${code}${st?.reason ? ` ${st.reason}` : ""}${tries}: ${message}${hint ? ` — ${hint}` : ""}`,
      code,
      st?.reason,
    );
  }
}

class TimedOut extends Error {}

// ApiException.body is the response text in 1.x (a parsed object in some versions): accept both.
function parseStatus(body: unknown): ApiStatus | undefined {
  let v: unknown = body;
  if (typeof body === "string") {
    try {
      v = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  return typeof v === "object" && v !== null ? v : undefined;
}
