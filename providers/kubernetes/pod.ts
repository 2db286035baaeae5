/**
 * The pod a KubernetesProvider block is (this provider's "job script"): one
 * container running `/bin/bash -c "<workerInit>\n<command>"` with the CPU and
 * memory requests and limits, security context, pull secret, volumes, service
 * account and annotations of the provider's options, as Parsl's
 * `KubernetesProvider._create_pod`. `restartPolicy: Never`, so a worker pool
 * that exits ends the block (Succeeded or Failed) instead of being restarted.
 * @module
 */
import type { V1Pod, V1Secret, V1Volume, V1VolumeMount } from "@kubernetes/client-node";

/** What one block's pod is made of. */
export interface PodSpecInput {
  name: string;
  namespace: string;
  image: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Shell lines run before the command. */
  workerInit: string;
  /** The launched worker-pool command. */
  command: string;
  requests: Record<string, string>;
  limits: Record<string, string>;
  env: Record<string, string>;
  userId: number | undefined;
  groupId: number | undefined;
  runAsNonRoot: boolean | undefined;
  /** An image pull secret's name. */
  secret: string | undefined;
  /** [persistentVolumeClaim name, mount path] pairs. */
  persistentVolumes: readonly (readonly [string, string])[];
  serviceAccountName: string | undefined;
  /** A Secret mounted read-only at `mountPath` (the executor's CurveZMQ keys). */
  certs: { secretName: string; mountPath: string } | undefined;
}

/** The container's name in every block pod. */
export const CONTAINER = "worker";

/** The bash text the container runs. */
export function podScript(workerInit: string, command: string): string {
  // A newline, not `;`: an empty or comment-ending workerInit must not break the command.
  return workerInit.trim() === "" ? command : `${workerInit}\n${command}`;
}

/** The Pod object to create. */
export function podManifest(p: PodSpecInput): V1Pod {
  const volumes: V1Volume[] = p.persistentVolumes.map(([claimName], i) => ({
    name: `pv-${i}`,
    persistentVolumeClaim: { claimName },
  }));
  const mounts: V1VolumeMount[] = p.persistentVolumes.map(([, mountPath], i) => ({ name: `pv-${i}`, mountPath }));
  if (p.certs !== undefined) {
    // 0440 plus fsGroup: readable by the container's user when it is not root (secret files belong to root).
    volumes.push({ name: "taskloom-certs", secret: { secretName: p.certs.secretName, defaultMode: 0o440 } });
    mounts.push({ name: "taskloom-certs", mountPath: p.certs.mountPath, readOnly: true });
  }
  const sc =
    p.userId !== undefined || p.groupId !== undefined || p.runAsNonRoot !== undefined
      ? {
          ...(p.userId !== undefined && { runAsUser: p.userId }),
          ...(p.groupId !== undefined && { runAsGroup: p.groupId }),
          ...(p.runAsNonRoot !== undefined && { runAsNonRoot: p.runAsNonRoot }),
        }
      : undefined;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: p.name,
      namespace: p.namespace,
      labels: p.labels,
      ...(Object.keys(p.annotations).length > 0 && { annotations: p.annotations }),
    },
    spec: {
      restartPolicy: "Never",
      containers: [
        {
          name: CONTAINER,
          image: p.image,
          command: ["/bin/bash", "-c"],
          args: [podScript(p.workerInit, p.command)],
          resources: { requests: p.requests, limits: p.limits },
          env: Object.entries(p.env).map(([name, value]) => ({ name, value })),
          ...(mounts.length > 0 && { volumeMounts: mounts }),
          ...(sc !== undefined && { securityContext: sc }),
        },
      ],
      ...(volumes.length > 0 && { volumes }),
      ...(p.secret !== undefined && { imagePullSecrets: [{ name: p.secret }] }),
      ...(p.serviceAccountName !== undefined && { serviceAccountName: p.serviceAccountName }),
      ...(p.certs !== undefined && p.groupId !== undefined && { securityContext: { fsGroup: p.groupId } }),
    },
  };
}

/** A Secret holding `files` (name → content), owned by the pod so Kubernetes deletes it with the pod. */
export function certSecret(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  files: Record<string, Buffer>,
  owner: { name: string; uid: string } | undefined,
): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name,
      namespace,
      labels,
      ...(owner !== undefined && {
        ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: owner.name, uid: owner.uid }],
      }),
    },
    data: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.toString("base64")])),
  };
}
