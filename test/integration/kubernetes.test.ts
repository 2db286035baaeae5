// KubernetesProvider. No real API server can run here (no kube-apiserver, kind, k3s or registry is obtainable), so
// the provider's real client (@kubernetes/client-node 1.x) talks to a loopback fake (test/helpers/fake-kube.ts)
// speaking the real core/v1 REST paths, JSON shapes and Status errors, and what it stores is cross-checked with the
// real kubectl. The fake also plays a tiny kubelet (container commands run here with bash) for a workflow end to
// end. What this cannot show: scheduling, image pulls, real pod lifecycles, RBAC or admission.
import { expect } from "chai";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  load,
  ConfigError,
  HighThroughputExecutor,
  KubernetesProvider,
  ProviderError,
  type DataFlowKernel,
  type KubernetesProviderOptions,
} from "taskloom";
import { nullLogger } from "../../lib/logging.js";
import { loadClient } from "../../providers/kubernetes/client.js";
import { FakeKube } from "../helpers/fake-kube.js";
import { processGone, rejection, tmpDir, until } from "../helpers/tmp.js";
import { whereAmI } from "../fixtures/htex-apps.js";

type Pod = {
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown> & { containers: Record<string, unknown>[] };
};

function kubectl(): string | undefined {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return "kubectl";
  } catch {
    return undefined;
  }
}

describe("KubernetesProvider against a fake API server", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let fake: FakeKube;
  let kubeconfig: string;
  beforeEach(async () => {
    fake = await new FakeKube().start();
    kubeconfig = fake.kubeconfig(tmp.dir);
  });
  afterEach(() => fake.stop());
  after(() => tmp.remove());

  const provider = async (o: Partial<KubernetesProviderOptions> = {}): Promise<KubernetesProvider> => {
    const p = new KubernetesProvider({ image: "python:3.12", kubeconfig, ...o });
    await p.start({ runDir: tmp.dir, logger: nullLogger });
    return p;
  };
  const message = (e: unknown): string => (e as Error).message;

  it("creates the pod Parsl's provider would, as kubectl sees it too", async function () {
    const p = await provider({
      namespace: "default",
      image: "registry.example.org/lab/flow:1.2",
      workerInit: "source /opt/env.sh",
      podName: "sim",
      maxCpu: 4,
      maxMem: "8Gi",
      initCpu: "1500m",
      initMem: "2Gi",
      extraRequests: { "nvidia.com/gpu": 1 },
      extraLimits: { "nvidia.com/gpu": "1" },
      userId: 1000,
      groupId: "100",
      runAsNonRoot: true,
      secret: "regcred",
      persistentVolumes: [["scratch-claim", "/scratch"]],
      serviceAccountName: "taskloom-worker",
      annotations: { "example.org/owner": "lab" },
    });
    const id = await p.submit("taskloom worker-pool --block 0", 1, "block-0");
    expect(id).to.equal(`sim-block-0-${p.runId}`);
    const expectPod = (pod: Pod): void => {
      expect(pod.metadata).to.deep.include({ name: id, namespace: "default" });
      expect(pod.metadata.labels).to.deep.equal({
        "app.kubernetes.io/managed-by": "taskloom",
        "taskloom.io/run": p.runId,
        "taskloom.io/block": "block-0",
      });
      expect(pod.metadata.annotations).to.deep.equal({ "example.org/owner": "lab" });
      expect(pod.spec).to.deep.include({
        restartPolicy: "Never",
        serviceAccountName: "taskloom-worker",
        imagePullSecrets: [{ name: "regcred" }],
        volumes: [{ name: "pv-0", persistentVolumeClaim: { claimName: "scratch-claim" } }],
      });
      expect(pod.spec.containers).to.have.length(1);
      expect(pod.spec.containers[0]).to.deep.equal({
        name: "worker",
        image: "registry.example.org/lab/flow:1.2",
        command: ["/bin/bash", "-c"],
        args: ["source /opt/env.sh\nexec taskloom worker-pool --block 0"],
        resources: {
          requests: { cpu: "1500m", memory: "2Gi", "nvidia.com/gpu": "1" },
          limits: { cpu: "4", memory: "8Gi", "nvidia.com/gpu": "1" },
        },
        env: [{ name: "TASKLOOM_BLOCK", value: "block-0" }],
        volumeMounts: [{ name: "pv-0", mountPath: "/scratch" }],
        securityContext: { runAsUser: 1000, runAsGroup: 100, runAsNonRoot: true },
      });
    };
    expectPod(fake.objects("pods")[0] as unknown as Pod);
    expect(p.coresPerNode).to.equal(4);
    expect(p.memPerNode).to.equal(8192);

    const bin = kubectl();
    if (bin === undefined) {
      if (process.env.CI === "true")
        throw new Error("kubectl is missing, and CI=true requires the kubectl cross-check");
      this.skip();
    }
    // Not execFileSync: the fake answers from this very process.
    const { stdout: out } = await promisify(execFile)(
      bin,
      [
        "--kubeconfig",
        kubeconfig,
        "--request-timeout",
        "20s",
        "get",
        "pods",
        "-l",
        `taskloom.io/run=${p.runId}`,
        "-o",
        "json",
      ],
      { encoding: "utf8" },
    );
    const items = (JSON.parse(out) as { items: Pod[] }).items;
    expect(items.map((i) => i.metadata.name)).to.deep.equal([id]);
    expectPod(items[0]!);
  });

  it("maps each phase and container reason, polling every block with one list call", async () => {
    const p = await provider();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await p.submit("sleep 60", 1, `block-${i}`));
    const terminated = (exitCode: number, reason: string, message?: string): Record<string, unknown> => ({
      containerStatuses: [
        { name: "worker", ready: false, restartCount: 0, state: { terminated: { exitCode, reason, message } } },
      ],
    });
    fake.setPodStatus(ids[1]!, {
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/3 nodes are available: 3 Insufficient cpu.",
        },
      ],
    });
    fake.setPodStatus(ids[2]!, {
      phase: "Pending",
      containerStatuses: [
        {
          name: "worker",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "python:3.12"' } },
        },
      ],
    });
    fake.setPodStatus(ids[3]!, { phase: "Running" });
    fake.setPodStatus(ids[4]!, { phase: "Succeeded", ...terminated(0, "Completed") });
    fake.setPodStatus(ids[5]!, { phase: "Failed", ...terminated(137, "OOMKilled") });
    fake.setPodStatus(ids[6]!, { phase: "Unknown" });
    fake.removePod(ids[7]!);

    const lists = fake.count("GET", /\/pods$/);
    const st = await p.status(ids);
    expect(fake.count("GET", /\/pods$/) - lists).to.equal(1);
    expect(fake.requests.findLast((r) => r.method === "GET")?.query).to.deep.include({
      labelSelector: `taskloom.io/run=${p.runId}`,
    });
    expect(st.map((s) => s.state)).to.deep.equal([
      "pending",
      "pending",
      "failed",
      "running",
      "completed",
      "failed",
      "unknown",
      "failed",
    ]);
    expect(st[1]!.message).to.equal("0/3 nodes are available: 3 Insufficient cpu.");
    expect(st[2]!.message).to.match(/ImagePullBackOff: Back-off pulling image "python:3\.12"/);
    // A pod stuck pulling its image would retry forever: it is deleted.
    expect(fake.pod(ids[2]!)).to.equal(undefined);
    expect(st[4]).to.deep.include({ exitCode: 0 });
    expect(st[5]).to.deep.include({ exitCode: 137 });
    expect(st[5]!.message).to.match(/exited with code 137 \(OOMKilled\).*kubectl logs -n default /);
    expect(st[7]!.message).to.match(/disappeared/);

    // Ended blocks keep their status without asking again; ids never issued are unknown.
    const again = await p.status([ids[4]!, "nope"]);
    expect(again.map((s) => s.state)).to.deep.equal(["completed", "unknown"]);
    expect(fake.count("GET", /\/pods$/) - lists).to.equal(1);
  });

  it("cancel deletes the pod, which is then cancelled; a pod already gone still counts", async () => {
    const p = await provider();
    const a = await p.submit("sleep 60", 1, "block-0");
    const b = await p.submit("sleep 60", 1, "block-1");
    fake.removePod(b);
    expect(await p.cancel([a, b, "nope"])).to.deep.equal([true, true, false]);
    expect(fake.count("DELETE", new RegExp(`/pods/${a}$`))).to.equal(1);
    expect(fake.pod(a)).to.equal(undefined);
    expect((await p.status([a, b])).map((s) => s.state)).to.deep.equal(["cancelled", "cancelled"]);
    expect(await p.cancel([a])).to.deep.equal([false]);
  });

  it("puts the worker's CurveZMQ keys in a Secret mounted at --cert-dir, deleted with the block", async () => {
    const certs = path.join(tmp.dir, "certs");
    fs.mkdirSync(certs, { recursive: true });
    fs.writeFileSync(path.join(certs, "client.key"), '{"publicKey":"c","secretKey":"s"}\n');
    fs.writeFileSync(path.join(certs, "interchange.public"), '{"publicKey":"p"}\n');
    fs.writeFileSync(path.join(certs, "interchange.key"), '{"secretKey":"server only"}\n');
    const p = await provider({ groupId: 2000 });
    const cmd = `taskloom worker-pool --block 0 --cert-dir ${certs}`;
    const ids = [await p.submit(cmd, 1, "block-0"), await p.submit(cmd, 1, "block-1")];
    const secrets = fake.objects("secrets");
    expect(secrets.map((s) => s.metadata.name)).to.deep.equal(ids.map((id) => `${id}-certs`));
    const s = secrets[0]! as unknown as { data: Record<string, string>; metadata: { ownerReferences: unknown[] } };
    expect(Object.keys(s.data).sort()).to.deep.equal(["client.key", "interchange.public"]);
    expect(Buffer.from(s.data["client.key"]!, "base64").toString()).to.equal('{"publicKey":"c","secretKey":"s"}\n');
    expect(s.metadata.ownerReferences).to.deep.equal([
      { apiVersion: "v1", kind: "Pod", name: ids[0], uid: fake.pod(ids[0]!)!.metadata.uid },
    ]);
    const spec = (fake.pod(ids[0]!) as unknown as Pod).spec;
    expect(spec.volumes).to.deep.equal([
      { name: "taskloom-certs", secret: { secretName: `${ids[0]}-certs`, defaultMode: 0o440 } },
    ]);
    expect(spec.containers[0]!.volumeMounts).to.deep.equal([
      { name: "taskloom-certs", mountPath: certs, readOnly: true },
    ]);
    expect(spec.securityContext).to.deep.equal({ fsGroup: 2000 });

    await p.cancel([ids[0]!]);
    fake.setPodStatus(ids[1]!, {
      phase: "Succeeded",
      containerStatuses: [{ name: "worker", ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }],
    });
    await p.status(ids);
    expect(fake.objects("secrets")).to.deep.equal([]);
    expect(fake.count("DELETE", /\/secrets\//)).to.equal(2);
  });

  describe("API errors", () => {
    it("401: the credentials, named as such", async () => {
      const p = await provider({ kubeconfig: fake.kubeconfig(tmp.dir, { token: "stale" }) });
      const e = await rejection(p.submit("true", 1, "block-0"));
      expect(e).to.be.instanceOf(ProviderError);
      expect(message(e)).to.match(
        /KubernetesProvider: create pod "taskloom-block-0-\w+" in namespace "default" failed with HTTP 401: Unauthorized — the API server did not accept the kubeconfig's credentials/,
      );
    });

    it("403: the verb and resource RBAC forbids, in the API server's words", async () => {
      const p = await provider();
      const id = await p.submit("true", 1, "block-0");
      fake.forbid("list", "pods");
      const e = await rejection(p.status([id]));
      expect(e).to.be.instanceOf(ProviderError);
      expect(message(e)).to.include(
        "list pods (labelSelector taskloom.io/run=" +
          p.runId +
          ') in namespace "default" failed with HTTP 403 Forbidden: pods is forbidden: User "system:serviceaccount:default:taskloom" cannot list resource "pods"',
      );
      expect(message(e)).to.match(/RBAC/);
    });

    it("404: a namespace that does not exist", async () => {
      const p = await provider({ namespace: "no-such-ns" });
      const e = await rejection(p.submit("true", 1, "block-0"));
      expect(message(e)).to.match(
        /in namespace "no-such-ns" failed with HTTP 404 NotFound: namespaces "no-such-ns" not found — namespace "no-such-ns" does not exist \(options\.namespace\)/,
      );
    });

    it("409: a pod name clash is retried under a new name, then reported", async () => {
      const p = await provider();
      fake.inject(409, "AlreadyExists", 'pods "x" already exists', { method: "POST", resource: "pods" });
      const id = await p.submit("true", 1, "block-0");
      expect(id).to.match(new RegExp(`^taskloom-block-0-${p.runId}-[0-9a-f]{4}$`));
      fake.inject(409, "AlreadyExists", 'pods "x" already exists', { method: "POST", resource: "pods", times: 3 });
      const e = await rejection(p.submit("true", 1, "block-1"));
      expect(message(e)).to.match(
        /HTTP 409 AlreadyExists: pods "x" already exists — an object of that name already exists/,
      );
    });

    it("5xx: retried with backoff, then a ProviderError", async () => {
      const p = await provider();
      const id = await p.submit("true", 1, "block-0");
      fake.inject(500, "InternalError", "Internal error occurred: etcdserver: request timed out", { times: 2 });
      const before = fake.count("GET", /\/pods$/);
      expect((await p.status([id]))[0]!.state).to.equal("pending");
      expect(fake.count("GET", /\/pods$/) - before).to.equal(3);
      fake.inject(503, "ServiceUnavailable", "the server is currently unable to handle the request", { times: 9 });
      const e = await rejection(p.cancel([id]));
      expect(message(e)).to.match(
        /delete pod .* failed with HTTP 503 ServiceUnavailable \(after 4 attempts\): the server is currently unable/,
      );
    });

    it("a server that never answers: a ProviderError after requestTimeout, not a hang", async () => {
      const p = await provider({ requestTimeout: 0.3 });
      fake.hang();
      const t0 = Date.now();
      const e = await rejection(p.submit("true", 1, "block-0"));
      expect(Date.now() - t0).to.be.lessThan(3000);
      expect(message(e)).to.match(
        /create pod .* got no answer from http:\/\/127\.0\.0\.1:\d+ within 0\.3 s \(options\.requestTimeout\)/,
      );
    });

    it("no server at all: a ProviderError naming it", async () => {
      const p = await provider();
      await fake.stop();
      const e = await rejection(p.submit("true", 1, "block-0"));
      expect(message(e)).to.match(/cannot reach the API server at http:\/\/127\.0\.0\.1:\d+/);
      fake = await new FakeKube().start();
    });
  });

  describe("options", () => {
    const bad = (o: Record<string, unknown>, re: RegExp): void => {
      const e = (() => {
        try {
          new KubernetesProvider(o as unknown as KubernetesProviderOptions);
        } catch (x) {
          return x;
        }
        throw new Error("no error");
      })();
      expect(e).to.be.instanceOf(ConfigError);
      expect(message(e)).to.match(re);
    };

    it("has Parsl's defaults", () => {
      const p = new KubernetesProvider({ image: "x" });
      expect(p).to.deep.include({
        namespace: "default",
        initBlocks: 4,
        minBlocks: 0,
        maxBlocks: 10,
        nodesPerBlock: 1,
        parallelism: 1,
        coresPerNode: 2,
        memPerNode: 500,
        statusPollingInterval: 60,
        requestTimeout: 30,
        podName: "taskloom",
      });
    });

    it("names the option, what was given and what is allowed", () => {
      bad({}, /options\.image: expected an image reference without spaces \(required\), got undefined/);
      bad({ image: "x", nodesPerBlock: 2 }, /options\.nodesPerBlock: a block is one pod, so only 1 is allowed, got 2/);
      bad(
        { image: "x", maxMem: "lots" },
        /options\.maxMem: expected a memory quantity like "500Mi" or "2Gi", got "lots"/,
      );
      bad({ image: "x", maxCpu: -1 }, /options\.maxCpu: expected a number of cores > 0/);
      bad({ image: "x", initCpu: 4 }, /options\.initCpu \(4\) must not exceed maxCpu \(2\)/);
      bad({ image: "x", initMem: "1Gi" }, /options\.initMem \(1Gi\) must not exceed maxMem \(500Mi\)/);
      bad({ image: "x", namespace: "My_NS" }, /options\.namespace: expected a namespace name/);
      bad(
        { image: "x", extraLimits: { "nvidia.com/gpu": "one" } },
        /options\.extraLimits\["nvidia\.com\/gpu"\]: expected a quantity/,
      );
      bad(
        { image: "x", persistentVolumes: [["claim", "relative/dir"]] },
        /options\.persistentVolumes: expected \[claimName, absoluteMountPath\] pairs/,
      );
      bad({ image: "x", userId: -5 }, /options\.userId: expected a numeric user\/group id >= 0, got -5/);
      bad({ image: "x", runAsNonRoot: "yes" }, /options\.runAsNonRoot: expected true or false/);
      bad({ image: "x", annotations: { a: 1 } }, /options\.annotations: expected an object of string values/);
      bad({ image: "x", requestTimeout: 0 }, /options\.requestTimeout: expected a number of seconds > 0, got 0/);
      bad({ image: "x", launcher: {} }, /options\.launcher: unknown option; allowed: image, namespace/);
    });

    it("start: a missing kubeconfig or context, or a missing client library, is a ConfigError", async () => {
      const missing = new KubernetesProvider({ image: "x", kubeconfig: path.join(tmp.dir, "nope") });
      const e1 = await rejection(missing.start({ runDir: tmp.dir, logger: nullLogger }));
      expect(e1).to.be.instanceOf(ConfigError);
      expect(message(e1)).to.match(/options\.kubeconfig: cannot load .*nope/);
      const ctx = new KubernetesProvider({ image: "x", kubeconfig, context: "prod" });
      const e2 = await rejection(ctx.start({ runDir: tmp.dir, logger: nullLogger }));
      expect(message(e2)).to.equal(
        'KubernetesProvider options.context: no context "prod" in the kubeconfig; it has: fake',
      );
      const e3 = await rejection(loadClient("@kubernetes/not-installed-here"));
      expect(e3).to.be.instanceOf(ConfigError);
      expect(message(e3)).to.include("npm install @kubernetes/client-node@1");
    });
  });
});

describe("a workflow on workers the fake Kubernetes started", function () {
  this.timeout(60_000);
  const tmp = tmpDir();
  let fake: FakeKube;
  let k: DataFlowKernel | undefined;
  before(async () => {
    fake = await new FakeKube({ kubelet: true, logDir: tmp.dir }).start();
  });
  after(async () => {
    await k?.cleanup();
    await fake.stop();
    tmp.remove();
  });

  it("runs tasks in the pod's worker pool over CurveZMQ, and cleanup deletes the pod and its keys", async () => {
    const provider = new KubernetesProvider({
      image: "ignored-by-the-fake",
      kubeconfig: fake.kubeconfig(tmp.dir),
      initBlocks: 1,
      maxBlocks: 1,
      statusPollingInterval: 1,
    });
    k = await load({
      executors: [new HighThroughputExecutor({ maxWorkersPerNode: 2, encrypted: true, provider })],
      runDir: path.join(tmp.dir, "flow"),
      initializeLogging: false,
    });
    const seen = await Promise.all(Array.from({ length: 4 }, () => whereAmI()));
    const pods = fake.pids();
    expect([...pods.keys()]).to.deep.equal([`taskloom-block-0-${provider.runId}`]);
    const manager = [...pods.values()][0]!;
    // exec: the worker pool is the container's own process, the parent of every worker.
    expect(new Set(seen.map((s) => s.ppid))).to.deep.equal(new Set([manager]));
    expect(seen.every((s) => s.block === "0")).to.equal(true);
    expect(fake.objects("secrets").map((s) => s.metadata.name)).to.deep.equal([
      `taskloom-block-0-${provider.runId}-certs`,
    ]);

    await k.cleanup();
    k = undefined;
    expect(fake.count("DELETE", /\/pods\//)).to.equal(1);
    expect(await until(() => processGone(manager), 10_000)).to.equal(true);
    expect(fake.objects("secrets")).to.deep.equal([]);
    expect(await until(() => fake.objects("pods").length === 0, 10_000)).to.equal(true);
  });
});
