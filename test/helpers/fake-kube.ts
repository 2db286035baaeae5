/**
 * A loopback fake Kubernetes API server (no real one can run here): the real
 * core/v1 REST paths and JSON shapes for pods and secrets, the discovery
 * endpoints kubectl needs, and the API server's `Status` error objects, with
 * their messages as the real API server words them (Kubernetes API
 * conventions; e.g. the 403 text as quoted in cloudtty/cloudtty#469 and
 * kubernetes-client/python#455). Tests can inject errors, hang requests, set a
 * pod's status, and count requests.
 *
 * With `kubelet: true` it also plays a tiny kubelet: a created pod's container
 * command runs here with bash (the image is ignored; once the Secrets its
 * volumes name exist, as a kubelet waits for them), its phase goes Pending →
 * Running → Succeeded/Failed by the process's exit, and deleting the pod
 * TERMs its process group (the pod stays listed, with a deletionTimestamp,
 * until the process is gone, as with a grace period). No scheduling, no
 * watch, no admission or validation: it tests a client's requests and its
 * handling of answers, not Kubernetes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

type Obj = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; labels?: Record<string, string> };
};

/** One request the fake answered. */
export interface KubeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
}

interface Injected {
  code: number;
  reason: string;
  message: string;
  /** Only requests with this method and resource (plural) get it. */
  method?: string;
  resource?: string;
  times: number;
}

const RESOURCES: Record<string, string> = { pods: "Pod", secrets: "Secret" };

/** The Status object the API server sends with an error. */
export function statusObject(
  code: number,
  reason: string,
  message: string,
  details?: unknown,
): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details !== undefined && { details }),
    code,
  };
}

export class FakeKube {
  readonly token = "fake-token-" + randomUUID();
  readonly requests: KubeRequest[] = [];
  /** Namespaces that exist. */
  readonly namespaces = new Set(["default"]);
  readonly #store = new Map<string, Obj>();
  readonly #injected: Injected[] = [];
  readonly #procs = new Map<string, ChildProcess>();
  readonly #hung: ServerResponse[] = [];
  #hang = false;
  #rv = 1;
  #server: Server | undefined;
  url = "";

  constructor(readonly opts: { kubelet?: boolean; logDir?: string } = {}) {}

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const p of this.#procs.values()) killGroup(p, "SIGKILL");
    for (const r of this.#hung) r.destroy();
    this.#server?.closeAllConnections();
    await new Promise((r) => this.#server?.close(r));
  }

  /** Writes a kubeconfig for this server (token auth, namespace `ns`) into `dir`; returns its path. */
  kubeconfig(dir: string, o: { token?: string; namespace?: string; context?: string } = {}): string {
    const file = path.join(dir, `kubeconfig-${randomUUID().slice(0, 8)}`);
    const ctx = o.context ?? "fake";
    fs.writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: fake, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]`,
        `users: [{name: u, user: {token: "${o.token ?? this.token}"}}]`,
        `contexts: [{name: ${ctx}, context: {cluster: fake, user: u, namespace: ${o.namespace ?? "default"}}}]`,
        `current-context: ${ctx}`,
        "",
      ].join("\n"),
    );
    return file;
  }

  /** The next `times` matching requests get this error Status. */
  inject(
    code: number,
    reason: string,
    message: string,
    match: { method?: string; resource?: string; times?: number } = {},
  ): void {
    this.#injected.push({ code, reason, message, ...match, times: match.times ?? 1 });
  }

  /** RBAC says no to `verb` on `resource`, with the API server's wording, for every such request. */
  forbid(verb: "create" | "list" | "delete", resource: string, user = "system:serviceaccount:default:taskloom"): void {
    const method = { create: "POST", list: "GET", delete: "DELETE" }[verb];
    this.inject(
      403,
      "Forbidden",
      `${resource} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "" in the namespace "default"`,
      { method, resource, times: Infinity },
    );
  }

  /** Requests get no answer at all (until stop). */
  hang(on = true): void {
    this.#hang = on;
  }

  /** Stored objects of a kind in a namespace. */
  objects(resource: "pods" | "secrets", namespace = "default"): Obj[] {
    const prefix = `${namespace}/${resource}/`;
    return [...this.#store.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  }

  pod(name: string, namespace = "default"): Obj | undefined {
    return this.#store.get(`${namespace}/pods/${name}`);
  }

  /** Sets a stored pod's `status` (what a kubelet would report). */
  setPodStatus(name: string, status: Record<string, unknown>, namespace = "default"): void {
    const p = this.pod(name, namespace);
    if (p === undefined) throw new Error(`no pod ${name}`);
    p.status = status;
  }

  /** Removes a pod as if someone else deleted it. */
  removePod(name: string, namespace = "default"): void {
    this.#store.delete(`${namespace}/pods/${name}`);
  }

  /** Pids of the containers the kubelet runs, by pod name. */
  pids(): Map<string, number> {
    return new Map([...this.#procs.entries()].map(([k, p]) => [k.split("/")[2]!, p.pid!]));
  }

  /** Requests by method and path pattern. */
  count(method: string, re: RegExp): number {
    return this.requests.filter((r) => r.method === method && re.test(r.path)).length;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "http://x");
    let text = "";
    for await (const c of req) text += String(c);
    const body = text === "" ? undefined : (JSON.parse(text) as unknown);
    const method = req.method ?? "GET";
    this.requests.push({ method, path: u.pathname, query: Object.fromEntries(u.searchParams), body });
    const send = (code: number, obj: unknown): void => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(obj));
    };
    if (this.#hang) {
      this.#hung.push(res);
      return;
    }
    // A wrong token is a 401. No credentials at all is the anonymous user, allowed to read only: kubectl
    // (client-go) sends no bearer token over plain http, and this fake has no TLS.
    const auth = req.headers.authorization;
    if (auth !== undefined && auth !== `Bearer ${this.token}`) {
      return send(401, statusObject(401, "Unauthorized", "Unauthorized"));
    }
    if (auth === undefined && method !== "GET") {
      return send(
        403,
        statusObject(403, "Forbidden", `User "system:anonymous" cannot ${method.toLowerCase()} path "${u.pathname}"`),
      );
    }
    const discovery = this.#discovery(u.pathname);
    if (discovery !== undefined) return send(200, discovery);
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+?)(?:\/([^/]+))?$/.exec(u.pathname);
    const resource = m?.[2];
    const inj = this.#injected.find(
      (i) => i.times > 0 && (i.method ?? method) === method && (i.resource ?? resource) === resource,
    );
    if (inj !== undefined) {
      inj.times--;
      return send(inj.code, statusObject(inj.code, inj.reason, inj.message));
    }
    if (m === null || resource === undefined || RESOURCES[resource] === undefined) {
      return send(404, statusObject(404, "NotFound", "the server could not find the requested resource"));
    }
    const [, ns, , name] = m as unknown as [string, string, string, string | undefined];
    if (!this.namespaces.has(ns)) {
      return send(404, statusObject(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" }));
    }
    const key = (n: string): string => `${ns}/${resource}/${n}`;
    if (method === "POST" && name === undefined) {
      const obj = body as Obj;
      const n = obj.metadata.name;
      if (this.#store.has(key(n))) {
        return send(
          409,
          statusObject(409, "AlreadyExists", `${resource} "${n}" already exists`, { name: n, kind: resource }),
        );
      }
      Object.assign(obj, { apiVersion: "v1", kind: RESOURCES[resource] });
      obj.metadata = {
        ...obj.metadata,
        namespace: ns,
        uid: randomUUID(),
        resourceVersion: String(this.#rv++),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      };
      if (resource === "pods") obj.status = { phase: "Pending", qosClass: "Burstable" };
      this.#store.set(key(n), obj);
      if (resource === "pods" && this.opts.kubelet) this.#run(ns, obj);
      return send(201, obj);
    }
    if (method === "GET" && name === undefined) {
      const sel = u.searchParams.get("labelSelector");
      const items = this.objects(resource as "pods", ns).filter((o) => matches(o.metadata.labels ?? {}, sel));
      return send(200, {
        kind: `${RESOURCES[resource]}List`,
        apiVersion: "v1",
        metadata: { resourceVersion: String(this.#rv) },
        items,
      });
    }
    const obj = name === undefined ? undefined : this.#store.get(key(name));
    if (obj === undefined || name === undefined) {
      return send(404, statusObject(404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource }));
    }
    if (method === "GET") return send(200, obj);
    if (method === "DELETE") {
      const proc = this.#procs.get(key(name));
      if (proc !== undefined) {
        obj.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        obj.metadata.deletionGracePeriodSeconds = 30;
        killGroup(proc, "SIGTERM");
        setTimeout(() => killGroup(proc, "SIGKILL"), 5000).unref();
      } else this.#store.delete(key(name));
      if (resource === "pods") return send(200, obj);
      return send(200, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, kind: resource, uid: obj.metadata.uid },
      });
    }
    return send(
      405,
      statusObject(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`),
    );
  }

  #discovery(p: string): unknown {
    if (p === "/version") return { major: "1", minor: "30", gitVersion: "v1.30.0-fake", platform: "linux/amd64" };
    if (p === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
    if (p === "/apis") return { kind: "APIGroupList", apiVersion: "v1", groups: [] };
    if (p === "/api/v1") {
      return {
        kind: "APIResourceList",
        groupVersion: "v1",
        resources: [
          {
            name: "pods",
            singularName: "pod",
            namespaced: true,
            kind: "Pod",
            verbs: ["create", "delete", "get", "list"],
            shortNames: ["po"],
          },
          {
            name: "secrets",
            singularName: "secret",
            namespaced: true,
            kind: "Secret",
            verbs: ["create", "delete", "get", "list"],
          },
        ],
      };
    }
    return undefined;
  }

  // The tiny kubelet: waits for the pod's Secret volumes, then runs its container command here.
  #run(ns: string, pod: Obj): void {
    const spec = pod.spec as {
      containers: { name: string; command?: string[]; args?: string[]; env?: { name: string; value: string }[] }[];
      volumes?: { secret?: { secretName: string } }[];
    };
    const c = spec.containers[0]!;
    const k = `${ns}/pods/${pod.metadata.name}`;
    const secrets = (spec.volumes ?? []).flatMap((v) => (v.secret ? [v.secret.secretName] : []));
    const ready = (): boolean => secrets.every((s) => this.#store.has(`${ns}/secrets/${s}`));
    const begin = (): void => {
      if (this.#store.get(k) !== pod || pod.metadata.deletionTimestamp !== undefined) return;
      if (!ready()) {
        setTimeout(begin, 20).unref();
        return;
      }
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      const log = this.opts.logDir
        ? fs.openSync(path.join(this.opts.logDir, `${pod.metadata.name}.log`), "a")
        : "ignore";
      const proc = spawn(argv[0]!, argv.slice(1), {
        detached: true,
        stdio: ["ignore", log, log],
        env: { ...process.env, ...Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value])) },
      });
      this.#procs.set(k, proc);
      const started = new Date().toISOString().replace(/\.\d+Z$/, "Z");
      pod.status = {
        phase: "Running",
        startTime: started,
        containerStatuses: [{ name: c.name, ready: true, restartCount: 0, state: { running: { startedAt: started } } }],
      };
      proc.on("exit", (code, signal) => {
        this.#procs.delete(k);
        const exitCode = code ?? 128 + (signal === "SIGKILL" ? 9 : 15);
        pod.status = {
          phase: exitCode === 0 ? "Succeeded" : "Failed",
          startTime: started,
          containerStatuses: [
            {
              name: c.name,
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt: started } },
            },
          ],
        };
        if (pod.metadata.deletionTimestamp !== undefined) this.#store.delete(k);
      });
    };
    setImmediate(begin);
  }
}

function matches(labels: Record<string, string>, sel: string | null): boolean {
  if (!sel) return true;
  return sel.split(",").every((t) => {
    const [key, value] = t.split("=");
    return labels[key!] === value;
  });
}

function killGroup(p: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (p.pid !== undefined) process.kill(-p.pid, sig);
  } catch {
    // already gone
  }
}
