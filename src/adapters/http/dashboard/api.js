// The dashboard's access to the HTTP API: the bearer read token (sessionStorage), `asOf` on every projection
// request, the errors shown.

/** The element with id `id`. */
export const $ = (id) => document.getElementById(id);
/** sessionStorage key of the read token. */
export const READ_KEY = "perpsource.readToken";

/** What every view is asked for: `asOf` sent with every projection request, or null for the live state. */
export const state = { asOf: null };

// ── API ─────────────────────────────────────────────────────────────────────────────────────────────────────

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function authHeaders() {
  const token = sessionStorage.getItem(READ_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** GET `path` with `params` (and asOf when `projection`); resolves { body, position } (x-log-position). */
export async function api(path, params = {}, { projection = true } = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) query.set(k, String(v));
  if (projection && state.asOf !== null) query.set("asOf", state.asOf);
  const url = query.size > 0 ? `${path}?${query}` : path;
  const res = await fetch(url, { headers: authHeaders() });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) {
    $("token-form").hidden = false;
    throw new ApiError(401, `${path}: ${body.message ?? "unauthorized"} — enter the read token above`);
  }
  if (!res.ok) throw new ApiError(res.status, `${path}: ${body.message ?? res.statusText}`);
  return { body, position: res.headers.get("x-log-position") };
}

export function showError(message) {
  const el = $("error");
  el.textContent = message ?? "";
  el.hidden = !message;
}
