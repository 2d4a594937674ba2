/**
 * How serve names the address it listens on: `host:port`, an IPv6 host in brackets.
 *
 * @module
 */

/**
 * `host:port` as a URL writes it (`[::1]:8080` for an IPv6 host).
 *
 * @example Usage
 * ```ts
 * import { hostPort } from "./address.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(hostPort("127.0.0.1", 8080), "127.0.0.1:8080");
 * assert.equal(hostPort("::1", 8080), "[::1]:8080");
 * ```
 */
export function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
