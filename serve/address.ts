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

/**
 * Whether `host` reaches this machine only: 127.0.0.0/8 (also IPv4-mapped, `::ffff:127.0.0.1`),
 * `::1` in any spelling, or `localhost`.
 *
 * @example Usage
 * ```ts
 * import { isLoopback } from "./address.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isLoopback("127.0.0.1"), true);
 * assert.equal(isLoopback("::ffff:127.0.0.1"), true);
 * assert.equal(isLoopback("0.0.0.0"), false);
 * ```
 */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (name === "localhost") return true;
  const v4 = name.replace(/^(?:0{0,4}:){0,4}(?:0{0,4}:)?ffff:/, "");
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return true;
  return /^(?:0{0,4}:){2,7}0{0,3}1$/.test(name) && expandsToLoopback(name);
}

/** `::1` written out in any of its forms (`0:0:0:0:0:0:0:1`, `::0:1`). */
function expandsToLoopback(name: string): boolean {
  const [left = "", right] = name.split("::");
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const written = [...groups(left), ...groups(right ?? "")];
  if (right === undefined ? written.length !== 8 : written.length > 7) return false;
  return written.slice(0, -1).every((g) => /^0{1,4}$/.test(g)) && /^0{0,3}1$/.test(written.at(-1)!);
}
