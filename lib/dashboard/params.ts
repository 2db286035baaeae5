/**
 * Query-string checks of the dashboard's API: each bad value becomes a
 * {@link ParamError} (HTTP 400) naming the parameter, what is allowed and
 * what came, so a hand-written URL gets a useful answer.
 * @module
 */
/** A bad query parameter or path segment; answered with 400 `{ error }`. */
export class ParamError extends Error {
  override name = "ParamError";
}

/** Largest value an integer parameter may take (task ids, ms since the epoch). */
const MAX_INT = Number.MAX_SAFE_INTEGER;

/**
 * The query of one endpoint: only `allowed` names, each at most once.
 * @throws ParamError for an unknown or repeated parameter.
 */
export function checkQuery(q: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of q.keys()) {
    if (!allowed.includes(name)) {
      throw new ParamError(
        allowed.length === 0
          ? `${name}: unknown parameter; this endpoint takes none`
          : `${name}: unknown parameter; allowed: ${allowed.join(", ")}`,
      );
    }
    if (seen.has(name)) throw new ParamError(`${name}: given more than once`);
    seen.add(name);
  }
}

/** `"12"` → 12 within `[min, max]`; absent or empty → undefined. */
export function intParam(q: URLSearchParams, name: string, min: number, max = MAX_INT): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  return parseIntIn(raw, name, min, max);
}

/**
 * A decimal integer in `[min, max]`.
 * @throws ParamError `limit: expected an integer 1–500, got "x"`.
 */
export function parseIntIn(raw: string, name: string, min: number, max = MAX_INT): number {
  const n = /^-?\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === MAX_INT ? `an integer ≥ ${min}` : `an integer ${min}–${max}`;
    throw new ParamError(`${name}: expected ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** A free-text parameter (an app name), at most `maxLength` characters; absent or empty → undefined. */
export function textParam(q: URLSearchParams, name: string, maxLength = 1000): string | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  if (raw.length > maxLength) throw new ParamError(`${name}: expected at most ${maxLength} characters`);
  return raw;
}

/** One of `allowed`; absent or empty → undefined. */
export function choiceParam(q: URLSearchParams, name: string, allowed: readonly string[]): string | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  if (!allowed.includes(raw)) {
    throw new ParamError(`${name}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/**
 * `from` and `to` as a window: both or neither, `from ≤ to`, and at most
 * `maxSpan` wide when given. With only one of them and `span`, the other is
 * filled in (a slice of `span` ids starting or ending there).
 */
export function windowParams(
  q: URLSearchParams,
  o: { min: number; maxSpan?: number; span?: number; unit: string },
): { from?: number; to?: number } {
  let from = intParam(q, "from", o.min);
  let to = intParam(q, "to", o.min);
  if (from === undefined && to === undefined) return {};
  if (o.span !== undefined) {
    from ??= Math.max(o.min, to! - o.span + 1);
    to ??= from + o.span - 1;
  }
  if (from === undefined || to === undefined) {
    throw new ParamError(
      `${from === undefined ? "from" : "to"}: missing; give both from and to (${o.unit}) or neither`,
    );
  }
  if (to < from) throw new ParamError(`to: expected at least from (${from}), got ${to}`);
  if (o.maxSpan !== undefined && to - from + 1 > o.maxSpan) {
    throw new ParamError(
      `to: a window spans at most ${o.maxSpan.toLocaleString("en-US")} ${o.unit}; got ${from}–${to} (${(to - from + 1).toLocaleString("en-US")})`,
    );
  }
  return { from, to };
}
