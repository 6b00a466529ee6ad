// The hub's HTTP API on the page's own origin. The token lives in sessionStorage only: never in a URL.

const TOKEN_KEY = "deconfliction.token";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export function authHeaders(extra = {}) {
  const value = token.get();
  return value ? { Authorization: `Bearer ${value}`, ...extra } : { ...extra };
}

/** One JSON call; a non-2xx becomes an ApiError carrying the hub's `error.message`. */
export async function api(path, { method = "GET", body, headers = {}, signal, idempotent = false } = {}) {
  const h = authHeaders({ Accept: "application/json", ...headers });
  if (body !== undefined) h["Content-Type"] = "application/json";
  // A retried write with the same key returns the first answer, so a double click never declares twice.
  if (idempotent) h["Idempotency-Key"] = crypto.randomUUID();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", `The hub did not answer (${err.message}).`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const e = data && data.error;
    throw new ApiError(
      response.status,
      e?.code ?? `http_${response.status}`,
      e?.message ?? (typeof data?.detail === "string" ? data.detail : `${response.status} ${response.statusText}`),
      e?.details ?? data?.detail,
    );
  }
  return data;
}

/**
 * Every item of a paginated list (`?limit=&after=` with `next_after`). `onPage(items)` (may be async) handles each
 * page as it comes, while the next one is already being fetched.
 */
export async function allPages(path, field, limit = 1000, onPage = null) {
  const out = [];
  const sep = path.includes("?") ? "&" : "?";
  const url = (after) => `${path}${sep}limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ""}`;
  let next = api(url(null));
  for (;;) {
    const page = await next;
    const items = page[field] ?? [];
    next = page.next_after ? api(url(page.next_after)) : null;
    next?.catch(() => {}); // awaited on the next turn; this only keeps an early failure from being reported twice
    if (onPage) await onPage(items);
    out.push(...items);
    if (!next) return out;
  }
}
