/**
 * Request parameters: each read by name from the query string (or a POST body), checked, and
 * turned into a typed value; anything else is a {@linkcode ParameterError} naming the parameter.
 * Nothing a client sends reaches SQL except as a bound parameter of a checked type.
 *
 * @module
 */

import { isCalendarDay } from "../core/report_window.ts";
import { cut } from "./problem.ts";

/** A missing, repeated or malformed request parameter (answered 400). */
export class ParameterError extends Error {
  /** The parameter at fault. */
  readonly parameter: string;
  /** Creates the error. */
  constructor(parameter: string, message: string) {
    super(message);
    this.name = "ParameterError";
    this.parameter = parameter;
  }
}

/** The parameters of one request: name → the values given (several when repeated). */
export type ParamSource = (name: string) => string[];

/**
 * A request's query string as a {@linkcode ParamSource}, parsed once: Hono's `queries(name)`
 * parses the whole string again for each name asked (a fifth of serve's own CPU in a flood of
 * tickets `304`s, whose route reads ten names).
 */
export function queryParams(req: { queries(): Record<string, string[]> }): ParamSource {
  const all = req.queries();
  return (name) => Object.hasOwn(all, name) ? all[name]! : [];
}

/**
 * The first query parameter whose name or value is not valid percent-encoding (a "%" not followed
 * by two hex digits, or bytes that are not UTF-8), as a ParameterError; undefined when none. The
 * URL parser reads such a value as its literal text, so `cluster=%E0` would filter on "%E0".
 */
export function badPercentEncoding(url: string): ParameterError | undefined {
  const start = url.indexOf("?");
  if (start < 0 || !url.includes("%", start)) return undefined;
  for (const pair of url.slice(start + 1).split("&")) {
    const eq = pair.indexOf("=");
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const name = decoded(rawName);
    if (name !== undefined && (eq < 0 || decoded(pair.slice(eq + 1)) !== undefined)) continue;
    const shown = name ?? rawName;
    return new ParameterError(
      shown,
      `Cannot read "${cut(shown, 40)}": ` +
        `it is not valid percent-encoding (each "%" starts two hex digits of UTF-8, "%25" is "%")`,
    );
  }
  return undefined;
}

/** `text` percent-decoded (a `+` as a space), or undefined when it is not valid encoding. */
export function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}

/** Longest free-text filter accepted (cluster, status, team …). */
const MAX_TEXT = 200;

/** Typed readers over one request's parameters. */
export class Params {
  #source: ParamSource;

  /** Wraps a parameter source. */
  constructor(source: ParamSource) {
    this.#source = source;
  }

  /** The single value of `name` (trimmed; empty counts as absent). */
  raw(name: string): string | undefined {
    const values = this.#source(name);
    if (values.length > 1) {
      throw new ParameterError(name, `Parameter "${name}" is given ${values.length} times`);
    }
    const value = values[0]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  /** Free text (a filter value), at most 200 characters, without control characters. */
  text(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    // deno-lint-ignore no-control-regex
    if (value.length > MAX_TEXT || /[\u0000-\u001f\u007f]/.test(value)) {
      throw new ParameterError(
        name,
        `Cannot read "${name}": expected text of at most ${MAX_TEXT} characters without control characters`,
      );
    }
    return value;
  }

  /** One of `choices` (case-insensitive), else `fallback`. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T;
  /** One of `choices` (case-insensitive), or undefined. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined;
  choice<T extends string>(name: string, choices: readonly T[], fallback?: T): T | undefined {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const found = choices.find((c) => c === value.toLowerCase());
    if (found === undefined) {
      throw new ParameterError(
        name,
        `Cannot read ${name} "${clip(value)}": expected ${list(choices)}`,
      );
    }
    return found;
  }

  /** `true` or `false` (also 1/0), else `fallback`. */
  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    throw new ParameterError(name, `Cannot read ${name} "${clip(value)}": expected true or false`);
  }

  /** A whole number in [min, max], else `fallback`. */
  integer(name: string, min: number, max: number, fallback: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const n = /^[+-]?\d{1,16}$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new ParameterError(
        name,
        `Cannot read ${name} "${clip(value)}": expected a whole number from ${min} to ${max}`,
      );
    }
    return n;
  }

  /** A decimal number in [min, max]; required unless `fallback` is given. */
  number(name: string, min: number, max: number, fallback?: number): number {
    const value = this.raw(name);
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      throw new ParameterError(name, `Parameter "${name}" is required`);
    }
    const n = decimal(value);
    if (n === null || n < min || n > max) {
      throw new ParameterError(
        name,
        `Cannot read ${name} "${clip(value)}": expected a number from ${min} to ${max}`,
      );
    }
    return n;
  }

  /** An ISO calendar date `YYYY-MM-DD` that exists, or undefined. */
  date(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (!isCalendarDay(value)) {
      throw new ParameterError(
        name,
        `Cannot read ${name} "${clip(value)}": expected a date such as 2026-06-15`,
      );
    }
    return value;
  }

  /**
   * `minLon,minLat,maxLon,maxLat` in degrees, or undefined. minLat ≤ maxLat; minLon > maxLon is a
   * box across the antimeridian (from minLon east to 180, then from -180 to maxLon), as GeoJSON
   * (RFC 7946 5.2) and OGC API Features read it (before: refused).
   */
  bbox(name: string): [number, number, number, number] | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const parts = value.split(",").map((p) => decimal(p.trim()));
    const bad = (why: string) =>
      new ParameterError(name, `Cannot read ${name} "${clip(value)}": ${why}`);
    if (parts.length !== 4 || parts.some((p) => p === null)) {
      throw bad("expected four numbers minLon,minLat,maxLon,maxLat");
    }
    const [minLon, minLat, maxLon, maxLat] = parts as [number, number, number, number];
    if ([minLon, maxLon].some((x) => x < -180 || x > 180)) {
      throw bad("longitudes must be from -180 to 180");
    }
    if ([minLat, maxLat].some((y) => y < -90 || y > 90)) {
      throw bad("latitudes must be from -90 to 90");
    }
    if (minLat > maxLat) throw bad("minLat is greater than maxLat");
    return [minLon, minLat, maxLon, maxLat];
  }
}

function decimal(text: string): number | null {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$/.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** A value as quoted back in a message: at most 40 characters. */
function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}

function list(choices: readonly string[]): string {
  return choices.length <= 1
    ? String(choices[0])
    : `${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}`;
}
