/**
 * Checks of KubernetesProvider's options: each bad value is a ConfigError
 * naming the option, what was given and what is allowed.
 * @module
 */
import * as path from "node:path";
import { describe } from "../../lib/app.js";
import { ConfigError } from "../../lib/errors.js";

const WHERE = "KubernetesProvider";
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$/;
const FACTOR: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
export function matching(k: string, v: unknown, re: RegExp, what: string): string | undefined {
  if (v === undefined && k !== "image") return undefined;
  if (typeof v !== "string" || !re.test(v))
    throw new ConfigError(`${WHERE} options.${k}: expected ${what}, got ${describe(v)}`);
  return v;
}

export function positive(k: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new ConfigError(`${WHERE} options.${k}: expected a number of seconds > 0, got ${describe(v)}`);
  }
  return v;
}

/** A quantity's text and value (cores, or bytes). */
export function quantity(k: string, v: unknown, what: string): { text: string; value: number } {
  const text = typeof v === "number" ? String(v) : v;
  const m = typeof text === "string" ? QUANTITY.exec(text) : null;
  if (m === null || !(Number(m[1]) > 0))
    throw new ConfigError(`${WHERE} options.${k}: expected ${what}, got ${describe(v)}`);
  return { text: text as string, value: Number(m[1]) * FACTOR[m[2] ?? ""]! };
}

const CPU = 'a number of cores > 0 or a CPU quantity like "1500m"';
const MEM = 'a memory quantity like "500Mi" or "2Gi"';

export function cpu(k: string, v: unknown): { text: string; value: number } {
  if (!(typeof v === "number" || (typeof v === "string" && /^\d+(\.\d+)?m?$/.test(v)))) {
    throw new ConfigError(`${WHERE} options.${k}: expected ${CPU}, got ${describe(v)}`);
  }
  return quantity(k, v, CPU);
}

export function mem(k: string, v: unknown): { text: string; value: number } {
  if (typeof v !== "string") throw new ConfigError(`${WHERE} options.${k}: expected ${MEM}, got ${describe(v)}`);
  return quantity(k, v, MEM);
}

export function resources(k: string, v: unknown): Record<string, string> {
  if (v === undefined) return {};
  const out: Record<string, string> = {};
  for (const [name, q] of Object.entries(stringMap(k, v, true))) {
    if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9][-A-Za-z0-9_.]*$/.test(name)) {
      throw new ConfigError(`${WHERE} options.${k}: "${name}" is not a resource name (e.g. "nvidia.com/gpu")`);
    }
    out[name] = quantity(`${k}["${name}"]`, q, 'a quantity like "1" or "10Gi"').text;
  }
  return out;
}

export function stringMap(k: string, v: unknown, numbers = false): Record<string, string | number> {
  const ok = (x: unknown): boolean => typeof x === "string" || (numbers && typeof x === "number");
  if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.values(v).every(ok)) {
    throw new ConfigError(
      `${WHERE} options.${k}: expected an object of ${numbers ? "string or number" : "string"} values, got ${describe(v)}`,
    );
  }
  return v as Record<string, string | number>;
}

export function id(k: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    throw new ConfigError(`${WHERE} options.${k}: expected a numeric user/group id >= 0, got ${describe(v)}`);
  }
  return n;
}

export function checkVolumes(v: unknown): void {
  if (v === undefined) return;
  const ok =
    Array.isArray(v) &&
    v.every(
      (p) =>
        Array.isArray(p) &&
        p.length === 2 &&
        typeof p[0] === "string" &&
        DNS_SUBDOMAIN.test(p[0]) &&
        typeof p[1] === "string" &&
        path.posix.isAbsolute(p[1]),
    );
  if (!ok) {
    throw new ConfigError(
      `${WHERE} options.persistentVolumes: expected [claimName, absoluteMountPath] pairs, got ${describe(v)}`,
    );
  }
}
