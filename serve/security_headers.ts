/**
 * The security headers of every answer (Hono's secureHeaders): the page and its files get a
 * Content-Security-Policy that lets them load only from this server (plus the tile host of
 * MAP_TILES_URL, for images), the API one that lets its answers load nothing; both forbid
 * framing, sniffing and sending a referrer.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { Config } from "../app/config.ts";
import type { ServeEnv } from "./env.ts";

/**
 * The page's Content-Security-Policy directives. What the page needs beyond `'self'`: inline
 * `style` attributes (its markers and legend are HTML with `style="…"`; Leaflet and uPlot set
 * styles through the DOM, which no policy restricts), `data:` images (the page's empty icon,
 * Leaflet's blank tile), `blob:` images (the PMTiles library draws each tile from a Blob), and
 * the tile host of MAP_TILES_URL when set.
 */
export function pagePolicy(settings: Pick<Config["serve"], "tilesUrl">): Record<string, string[]> {
  const tiles = settings.tilesUrl === undefined ? undefined : tileSource(settings.tilesUrl);
  return {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    styleSrcAttr: ["'unsafe-inline'"],
    imgSrc: ["'self'", "data:", "blob:", ...(tiles === undefined ? [] : [tiles])],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  };
}

/** The API answers data, never a document: it may load nothing and be framed by nothing. */
const API_POLICY = { defaultSrc: ["'none'"], frameAncestors: ["'none'"] };

/**
 * The CSP source of a tile URL template: its origin; `{s}.host` (Leaflet's subdomains) as
 * `*.host`; any other placeholder in the host as the scheme alone (`https:`).
 */
export function tileSource(template: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*:)\/\/([^/?#]*)/i.exec(template);
  if (match === null) return undefined;
  const [, scheme, host] = match as unknown as [string, string, string];
  if (!host.includes("{")) return `${scheme.toLowerCase()}//${host.toLowerCase()}`;
  const rest = /^\{[^}]*\}\.([^{}]+)$/.exec(host)?.[1];
  return rest === undefined
    ? scheme.toLowerCase()
    : `${scheme.toLowerCase()}//*.${rest.toLowerCase()}`;
}

/**
 * The headers Hono's secureHeaders adds by default that mean nothing on a data answer (they are
 * about documents, downloads and cross-origin embedding): off on the API, whose every byte of
 * header is sent with each dispatch answer.
 */
const DOCUMENT_ONLY = {
  crossOriginEmbedderPolicy: false,
  crossOriginResourcePolicy: false,
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
} as const;

/**
 * Sets the security headers on every answer, the errors too, but a `304`: it updates the stored
 * answer, which has them (RFC 9111 4.3.4), and eleven more headers cost a fifth of serve's 304s
 * a second. The page gets Hono's whole set; the API what a data answer needs (no sniffing, a
 * policy that loads and frames nothing, no referrer). Strict-Transport-Security is left to the
 * TLS proxy in front (serve speaks plain HTTP).
 */
export function securityHeaders(settings: Config["serve"]): MiddlewareHandler<ServeEnv> {
  const common = {
    strictTransportSecurity: false,
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    xContentTypeOptions: "nosniff",
  } as const;
  const page = secureHeaders({ ...common, contentSecurityPolicy: pagePolicy(settings) });
  const api = secureHeaders({
    ...common,
    ...DOCUMENT_ONLY,
    contentSecurityPolicy: API_POLICY,
  });
  return async (c, next) => {
    await next();
    if (c.res.status === 304) return;
    // Sets the headers on the answer made (its `next` has nothing left to run).
    const set = /^\/(api|webhook)(\/|$)/.test(c.req.path) ? api : page;
    await set(c, () => Promise.resolve());
  };
}
