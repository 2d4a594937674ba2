// Shared machinery of the HTTP geocoder adapters: pacing to the provider's rate, retries with
// backoff on 429/5xx/network errors, terminal errors on 401/402/403, and an API key that never
// reaches a message. Private to this folder.

import { GeocoderError } from "../core/ports/mod.ts";
import type { GeocodeAnswer, GeocodeQuery, Geocoder } from "../core/ports/mod.ts";

// A lookup is bounded: at most MAX_ATTEMPTS requests, each cut off after TIMEOUT_MS, and a timeout
// is not retried. A request that got no answer (a refused port, an unknown host) is retried only
// once the provider has answered in this run: before, the endpoint is more likely wrong than
// briefly down, and the next run tries again. So a wrong endpoint costs a place one request (a
// silent one 10 s), and geocode() stops after UNREACHABLE_AFTER (3) such places in a row: within
// about 3 s at 1 request/s (it took ~40 s of backoff before). A provider that has answered and
// then refuses costs a place 6 s of backoff (LocationIQ, 2/s; 12 s at 1/s).

/** Requests per lookup for 429 / 5xx / network failures (each retry waits twice as long). */
const MAX_ATTEMPTS = 3;
/** Per-request timeout, ms: a geocoder answers in well under a second. */
const TIMEOUT_MS = 10_000;
/** Longest wait before a retry, ms (the backoff, or the provider's Retry-After). */
const MAX_BACKOFF_MS = 30_000;
/**
 * A provider's per-minute limit (LocationIQ's "Rate Limited Minute"): wait for the next minute,
 * at most this many times for one lookup, without using up an attempt.
 */
const MINUTE_WAITS = 2;
const MINUTE_MS = 60_000;

/** Settings common to every HTTP geocoder adapter. */
export interface HttpGeocoderOptions {
  /** Base URL override (self-hosted, tests). */
  baseUrl?: string;
  /** API key (sent only as the provider requires; never logged). */
  apiKey?: string;
  /** Requests per second (default: the provider's published free-tier limit). */
  rate?: number;
  /** Attempts for 429 / 5xx / network failures before giving up (default 3). */
  maxAttempts?: number;
  /** Per-request timeout, ms (default 10000); a request that times out is not retried. */
  timeoutMs?: number;
  /** Hides the key in every encoding from messages (default: verbatim and encodeURIComponent). */
  redact?: (text: string) => string;
  /** HTTP client (tests inject one). */
  fetch?: typeof fetch;
  /** Waits; tests inject one that counts instead of sleeping. */
  sleep?: (ms: number) => Promise<void>;
  /** Clock in ms, paired with `sleep` for pacing. */
  now?: () => number;
  /** Told before a long wait the provider asked for (its per-minute limit), in words. */
  onWait?: (text: string) => void;
}

/** What a provider adapter supplies. */
export interface ProviderSpec {
  provider: string;
  label: string;
  defaultBaseUrl: string;
  defaultRate: number;
  maxRate?: number;
  headers?: Record<string, string>;
  url(base: string, query: GeocodeQuery, apiKey: string | undefined): URL;
  /** Reads a response: an answer, or undefined when the status is not a success or a miss. */
  read(status: number, body: unknown): GeocodeAnswer | undefined;
  /** True for a 429 that means the day's quota is gone (retrying today cannot help). */
  quotaExhausted?(status: number, detail: string): boolean;
  /** True for a 429 that means the minute's allowance is gone (the next minute can help). */
  minuteLimited?(status: number, detail: string): boolean;
}

/** Builds a Geocoder from a provider spec. */
export function createHttpGeocoder(spec: ProviderSpec, options: HttpGeocoderOptions): Geocoder {
  const rate = Math.min(options.rate ?? spec.defaultRate, spec.maxRate ?? Infinity);
  const interval = 1000 / rate;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const lookup: Lookup = {
    spec,
    base: (options.baseUrl ?? spec.defaultBaseUrl).replace(/\/+$/, ""),
    apiKey: options.apiKey,
    interval,
    maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS,
    timeoutMs: options.timeoutMs ?? TIMEOUT_MS,
    fetch: options.fetch ?? fetch,
    sleep,
    pace: pacer(interval, sleep, options.now ?? (() => Date.now())),
    hide: options.redact ?? hideKey(options.apiKey),
    answered: false,
    onWait: options.onWait,
  };
  return {
    provider: spec.provider,
    label: `${spec.label} at ${new URL(lookup.base).host}`,
    search: (query) => search(lookup, query),
  };
}

/** What every lookup of one geocoder shares. */
interface Lookup {
  spec: ProviderSpec;
  base: string;
  apiKey: string | undefined;
  /** Milliseconds between requests at the provider's rate. */
  interval: number;
  maxAttempts: number;
  timeoutMs: number;
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /** Waits for the next request's turn, and at least `extraMs`. */
  pace: (extraMs?: number) => Promise<void>;
  /** Hides the API key from a message. */
  hide: (text: string) => string;
  /** The provider has answered a request (any HTTP status) in this run. */
  answered: boolean;
  onWait?: (text: string) => void;
}

/** Spaces requests `interval` ms apart. */
function pacer(
  interval: number,
  sleep: (ms: number) => Promise<void>,
  now: () => number,
): (extraMs?: number) => Promise<void> {
  let next = 0;
  return async (extraMs = 0) => {
    const wait = Math.max(next - now(), extraMs);
    if (wait > 0) await sleep(wait);
    next = now() + interval;
  };
}

/** Replaces the key, verbatim and URL-encoded, with `***`. */
function hideKey(apiKey: string | undefined): (text: string) => string {
  return (text: string) =>
    apiKey ? text.replaceAll(apiKey, "***").replaceAll(encodeURIComponent(apiKey), "***") : text;
}

/** One lookup: retries 429 / 5xx / network failures with backoff, throws on the rest. */
async function search(lookup: Lookup, query: GeocodeQuery): Promise<GeocodeAnswer> {
  const { spec, maxAttempts } = lookup;
  let lastError = "";
  let lastStatus: number | undefined;
  let minuteWaits = 0;
  let minuteLimited = false;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    await lookup.pace(attempt === 1 ? 0 : Math.min(MAX_BACKOFF_MS, lookup.interval * 2 ** attempt));
    const reply = await ask(lookup, query);
    if (typeof reply === "string") {
      lastError = reply;
      lastStatus = undefined;
      throwUnlessAnswered(lookup, reply);
      continue;
    }
    lookup.answered = true;
    const { status } = reply.response;
    const answer = reply.response.ok || status === 404 ? spec.read(status, reply.body) : undefined;
    // A hit's label is cached and shown (geo_*.reason): never with the key a provider echoed.
    if (answer) {
      return answer.kind === "hit" ? { ...answer, label: lookup.hide(answer.label) } : answer;
    }
    const detail = lookup.hide(describeBody(reply.body, reply.text));
    const refused = refusal(spec, status, detail);
    if (refused) throw refused;
    lastError = `${spec.label} answered HTTP ${status}: ${detail}`;
    lastStatus = status;
    minuteLimited = spec.minuteLimited?.(status, detail) ?? false;
    if (minuteLimited && minuteWaits < MINUTE_WAITS) {
      minuteWaits++;
      attempt--; // the provider asked for a pause, the lookup did not fail
      // Said before the minute's silence (before: nothing on screen for up to 2 minutes).
      lookup.onWait?.(
        `${spec.label} limits requests per minute: waiting ${MINUTE_MS / 1000} s for the next ` +
          `minute (${minuteWaits} of ${MINUTE_WAITS} for this place)`,
      );
      await lookup.sleep(MINUTE_MS);
      continue;
    }
    if (status === 429 || status >= 500) {
      if (attempt < maxAttempts) await waitRetryAfter(lookup, reply.response);
      continue;
    }
    throw new GeocoderError(lastError, { status, terminal: false });
  }
  if (minuteLimited) {
    // The per-minute limit held through the waits: every later place would wait as long (10
    // places in a row, 21 minutes of silence, before geocode() gave up), so the run stops here.
    throw new GeocoderError(
      `${lastError} (gave up after ${MINUTE_WAITS} minutes of waiting and ${maxAttempts} ` +
        `attempts): the per-minute limit held`,
      { status: lastStatus, terminal: true },
    );
  }
  throw new GeocoderError(`${lastError} (gave up after ${maxAttempts} attempts)`, {
    status: lastStatus,
    terminal: false,
  });
}

/**
 * No answer to a request before the provider has answered once in the run: not retried (the
 * endpoint is more likely wrong than briefly down).
 */
function throwUnlessAnswered(lookup: Lookup, noAnswer: string): void {
  if (lookup.answered) return;
  throw new GeocoderError(`${noAnswer} (not retried: no answer from it yet in this run)`, {
    terminal: false,
  });
}

/**
 * Sends one request: the response with its text and JSON body (undefined when it is none), or
 * why no answer came, the key hidden. A timeout throws.
 */
async function ask(
  lookup: Lookup,
  query: GeocodeQuery,
): Promise<{ response: Response; text: string; body: unknown } | string> {
  const { spec } = lookup;
  let response: Response;
  let text: string;
  try {
    response = await lookup.fetch(spec.url(lookup.base, query, lookup.apiKey), {
      headers: { accept: "application/json", ...spec.headers },
      signal: AbortSignal.timeout(lookup.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    // A timed-out request may have reached the provider (and been counted): not retried.
    if ((error as Error).name === "TimeoutError") {
      throw new GeocoderError(`${spec.label} did not answer within ${lookup.timeoutMs / 1000} s`, {
        terminal: false,
      });
    }
    return lookup.hide(`${spec.label} did not answer: ${fetchFailure(error as Error)}`);
  }
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { response, text, body };
}

/** The terminal error for a refused key or request or an exhausted quota, else undefined. */
function refusal(spec: ProviderSpec, status: number, detail: string): GeocoderError | undefined {
  const quota = status === 402 || (spec.quotaExhausted?.(status, detail) ?? false);
  if (status !== 401 && status !== 403 && !quota) return undefined;
  const why = status === 401
    ? "refused the API key"
    : quota
    ? "says the quota is exhausted"
    : "refused the request";
  return new GeocoderError(
    `${spec.label} ${why} (HTTP ${status}: ${detail}); every answer so far is cached`,
    { status, terminal: true },
  );
}

/** Waits as long as the provider's Retry-After asks (at most MAX_BACKOFF_MS), if it asks. */
async function waitRetryAfter(lookup: Lookup, response: Response): Promise<void> {
  const retryAfter = Number(response.headers.get("retry-after"));
  if (Number.isFinite(retryAfter) && retryAfter > 0) {
    await lookup.sleep(Math.min(MAX_BACKOFF_MS, retryAfter * 1000));
  }
}

/** Why a fetch failed: Deno says "fetch failed" and keeps the reason after the URL in `cause`. */
function fetchFailure(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause.message : "";
  return cause.replace(/^.*\): /, "") || error.message;
}

function describeBody(body: unknown, text: string): string {
  if (body && typeof body === "object") {
    const b = body as { error?: unknown; status?: { message?: unknown } };
    if (typeof b.error === "string") return b.error;
    if (typeof b.status?.message === "string") return b.status.message;
  }
  // A web page (a base URL that is no geocoder's) in a few words, not its markup cut mid-tag.
  if (/^\s*<(!doctype html|html|head|body)\b/i.test(text)) {
    const title = /<title[^>]*>([^<]{1,80})/i.exec(text)?.[1]?.trim();
    return `an HTML page${title ? ` ("${title}")` : ""}, not the geocoder's JSON`;
  }
  // One line: a multi-line text would break the report's lines.
  return text.slice(0, 120).replace(/\s+/g, " ").trim() || "(empty body)";
}

/** A `minLon,minLat,maxLon,maxLat` box of ± `degrees` around a point. */
export function viewbox(near: { lat: number; lon: number }, degrees = 0.3): string {
  return [near.lon - degrees, near.lat - degrees, near.lon + degrees, near.lat + degrees]
    .map((n) => n.toFixed(5))
    .join(",");
}

/** Reads a Nominatim-style array answer (LocationIQ, Nominatim). */
export function readNominatimArray(body: unknown): GeocodeAnswer | undefined {
  if (!Array.isArray(body)) return undefined;
  const first = body[0] as { lat?: string; lon?: string; display_name?: string } | undefined;
  if (first === undefined) return { kind: "miss" };
  const lat = Number(first.lat);
  const lon = Number(first.lon);
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return undefined;
  return { kind: "hit", lat, lon, label: first.display_name ?? "" };
}
