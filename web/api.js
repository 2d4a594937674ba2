// Reads the API with If-None-Match: each URL's last ETag and body are kept, so a 304 costs
// nothing and returns the body already held.

const held = new Map();
const MAX_HELD = 40;

/** An API answer that was not 2xx/304, with the server's own message. */
export class ApiError extends Error {
  constructor(url, status, detail) {
    super(`Cannot load "${url}": ${detail || `HTTP ${status}`}`);
    this.status = status;
  }
}

async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || body.error || "";
  } catch {
    return "";
  }
}

const TOKEN_KEY = "fleettickets.token";

/** The Authorization header, when the server asked for its token (SERVE_TOKEN) this session. */
export function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** fetch() that asks once for the server's access token when it answers 401. */
export async function authorizedFetch(url, init = {}) {
  const send = () => fetch(url, { ...init, headers: { ...init.headers, ...authHeaders() } });
  let response = await send();
  if (response.status === 401) {
    const token = prompt("This server needs its access token (SERVE_TOKEN):");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token.trim());
      response = await send();
    }
  }
  return response;
}

/** GETs JSON; `changed` is false when the server answered 304 (nothing new). */
export async function getJson(url) {
  const hit = held.get(url);
  const headers = hit ? { "If-None-Match": hit.etag } : {};
  const response = await authorizedFetch(url, { headers, cache: "no-store" });
  if (response.status === 304 && hit) return { data: hit.data, changed: false };
  if (!response.ok) throw new ApiError(url, response.status, await problemText(response));
  const data = await response.json();
  const etag = response.headers.get("ETag");
  if (etag) {
    held.delete(url);
    held.set(url, { etag, data });
    if (held.size > MAX_HELD) held.delete(held.keys().next().value);
  }
  return { data, changed: true };
}

/** Every page of a GeoJSON ticket selection (follows `next`); `changed` if any page changed. */
export async function getAllTickets(url) {
  const first = await getJson(url);
  const features = [...first.data.features];
  let changed = first.changed;
  let next = first.data.next;
  while (next) {
    const page = await getJson(next.startsWith("/") ? next.slice(1) : next);
    features.push(...page.data.features);
    changed ||= page.changed;
    next = page.data.next;
  }
  return { data: { ...first.data, features }, changed };
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
