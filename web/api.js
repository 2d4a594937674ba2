// Reads the API with If-None-Match: each URL's last ETag and body are kept, so a 304 costs
// nothing and returns the body already held.

const held = new Map();
const MAX_HELD = 40;

/** An API answer that was not 2xx/304, with the server's own message (status 0: no answer). */
export class ApiError extends Error {
  /** `parameter`: the request parameter at fault, as a 400 problem names it. */
  constructor(url, status, detail, parameter = null) {
    super(`Cannot load "${url}": ${detail || `HTTP ${status}`}`);
    this.status = status;
    this.detail = detail || `HTTP ${status}`;
    this.parameter = parameter;
  }
}

/** The error of a response that is not 2xx/304, with the problem's detail and parameter. */
async function apiError(url, response) {
  try {
    const body = await response.json();
    const detail = body.detail || body.title || body.error || "";
    return new ApiError(url, response.status, detail, body.parameter ?? null);
  } catch {
    return new ApiError(url, response.status, "");
  }
}

const TOKEN_KEY = "fleettickets.token";

/**
 * The token entered: this tab's (`sessionStorage`), else one remembered on this device
 * (`localStorage`, when the person ticked "Remember on this device").
 */
function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);
}

/** Keeps the token entered (null: forgets it everywhere). */
function storeToken(token, remember) {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  if (token) (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
}

/** The Authorization header, when the server asked for its token (SERVE_TOKEN). */
export function authHeaders() {
  const token = storedToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** True when a token was entered (it may since have been refused). */
export function tokenEntered() {
  return Boolean(storedToken());
}

/**
 * How the page asks for the token: resolves with `{ token, remember }`, or null for a cancel.
 * The page sets a form of its own (setTokenAsker); a plain prompt() otherwise.
 */
let tokenAsker = () =>
  Promise.resolve({
    token: prompt("This page needs the server's access token (SERVE_TOKEN):"),
    remember: false,
  });

/** Sets how the page asks for the token (see tokenAsker). */
export function setTokenAsker(asker) {
  tokenAsker = asker;
}

/** Prompts so far: a request sent before the latest prompt tries again with its answer. */
let prompts = 0;
/** The question being asked (a promise of whether a token was given), while it is open. */
let asking = null;
/** The server accepted the token in use (since the latest prompt). */
let accepted = false;
/** The person cancelled the prompt or their token was refused: no new prompt until they ask. */
let refused = false;

/**
 * Asks the person for the server's access token; resolves false when they cancel. One question
 * at a time: asked again while open, the same question answers.
 */
export function askForToken() {
  if (asking) return asking;
  prompts++;
  accepted = false;
  asking = (async () => {
    const answer = await tokenAsker();
    const token = answer?.token?.trim();
    refused = !token;
    // A cancel forgets a refused token: the page then says it needs one, not that the one
    // entered is wrong (before, after a cancel).
    storeToken(token || null, answer?.remember === true);
    return Boolean(token);
  })().finally(() => asking = null);
  return asking;
}

/**
 * fetch() that asks for the server's access token when it answers 401: once for all the
 * requests under way (the others wait for the one question's answer, then try again with it),
 * and not again after a cancel or a refused token until askForToken() is called.
 */
export async function authorizedFetch(url, init = {}) {
  const send = async () => {
    const round = prompts;
    const response = await fetch(url, { ...init, headers: { ...init.headers, ...authHeaders() } });
    if (round === prompts) {
      if (response.status !== 401) accepted = true;
      // Refused before it was ever accepted: the token just entered is wrong.
      else if (prompts > 0 && !accepted) refused = true;
    }
    return { response, round };
  };
  const { response, round } = await send();
  if (response.status !== 401) return response;
  if (asking) await asking;
  else if (round === prompts && !refused) await askForToken();
  if (refused) return response;
  const again = await send();
  if (again.response.status === 401) refused = true;
  return again.response;
}

/** GETs JSON; `changed` is false when the server answered 304 (nothing new). */
export async function getJson(url) {
  const hit = held.get(url);
  const headers = hit ? { "If-None-Match": hit.etag } : {};
  let response;
  try {
    response = await authorizedFetch(url, { headers, cache: "no-store" });
  } catch {
    throw new ApiError(url, 0, "The server cannot be reached");
  }
  if (response.status === 304 && hit) {
    // Its empty body read: left unread (or cancelled), the browser reports the request as
    // failed (net::ERR_ABORTED in the network panel), though it answered.
    await response.arrayBuffer().catch(() => {});
    return { data: hit.data, changed: false };
  }
  if (!response.ok) throw await apiError(url, response);
  const data = await response.json();
  const etag = response.headers.get("ETag");
  if (etag) {
    held.delete(url);
    held.set(url, { etag, data });
    if (held.size > MAX_HELD) held.delete(held.keys().next().value);
  }
  return { data, changed: true };
}

/**
 * Every page of a GeoJSON ticket selection (follows `next`, which starts each page after the last
 * ticket of the one before); `changed` if any page changed.
 */
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
  return { data: { ...first.data, numberReturned: features.length, features }, changed };
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
