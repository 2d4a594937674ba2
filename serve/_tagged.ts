/**
 * Hono's ETag middleware for answers tagged from their bytes (the page's files, `/api/config`).
 * Private to serve/.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { etag, RETAINED_304_HEADERS } from "hono/etag";

/**
 * A weak ETag from the bytes (gzip changes the bytes sent, not the answer), and a `304` that keeps
 * the CORS headers of the `200` it stands for: Hono's keeps only the caching ones, so a listed
 * origin's revalidation of `/api/config` was blocked by the browser (a tester's).
 */
export function taggedByBytes(): MiddlewareHandler {
  return etag({
    weak: true,
    retainedHeaders: [
      ...RETAINED_304_HEADERS,
      "access-control-allow-origin",
      "access-control-allow-credentials",
      "access-control-expose-headers",
    ],
  });
}
