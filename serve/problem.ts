/**
 * Errors as RFC 9457 problem details (`application/problem+json`).
 *
 * @module
 */

import { STATUS_CODES } from "node:http";

/** A problem details object. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The request parameter at fault (400). */
  parameter?: string;
}

/** A problem+json response. */
export function problemResponse(
  status: number,
  detail: string,
  extra: { parameter?: string; headers?: Record<string, string> } = {},
): Response {
  // What the client sent is echoed at most so long (before: a 63,000-character path came back
  // whole in a 63 KB 404), as the access line cuts a path.
  const body: Problem = {
    type: "about:blank",
    title: STATUS_CODES[status] ?? "Error",
    status,
    detail: cut(detail, 2048),
    ...(extra.parameter === undefined ? {} : { parameter: cut(extra.parameter, 200) }),
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/problem+json", ...extra.headers },
  });
}

/** `text`, or its first `max` characters and how long it was. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
