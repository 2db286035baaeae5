// Reading the dashboard's JSON API (relative URLs: the page works behind a path prefix).

/** An answer other than 200, with the server's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET `api/<path>` with `params` (empty and undefined ones left out). */
export async function api(path, params = {}, signal) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const url = `api/${path}${q.toString() ? `?${q}` : ""}`;
  const res = await fetch(url, { signal, cache: "no-store", headers: { Accept: "application/json" } });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(res.status, `${url}: HTTP ${res.status}, not JSON`);
  }
  if (!res.ok) throw new ApiError(res.status, `${url}: ${body?.error ?? `HTTP ${res.status}`}`);
  return body;
}

/** `#/run/<id>/…` for links. */
export const runHref = (runId, rest = "") => `#/run/${encodeURIComponent(runId)}${rest ? `/${rest}` : ""}`;
export const taskHref = (runId, taskId) => runHref(runId, `task/${taskId}`);
