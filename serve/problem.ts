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
  const body: Problem = {
    type: "about:blank",
    title: STATUS_CODES[status] ?? "Error",
    status,
    detail,
    ...(extra.parameter === undefined ? {} : { parameter: extra.parameter }),
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/problem+json", ...extra.headers },
  });
}
