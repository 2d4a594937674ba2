/**
 * Secret redaction for everything the worker prints or stores about a run.
 *
 * @module
 */

/**
 * Returns a function that replaces every given secret, and any URL password, with `***`. A
 * secret is found in every encoding a message can carry it in: verbatim, percent-encoded by any
 * rule (`encodeURIComponent`, form encoding with `+`, every byte escaped, upper- or lower-case
 * hex, encoded twice) and JSON-escaped, in any mix.
 *
 * @example
 * ```ts
 * const redact = createRedactor(["geo~key!42"]);
 * redact("GET /search?key=geo%7Ekey%2142 failed"); // "GET /search?key=*** failed"
 * ```
 */
export function createRedactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const values = [...new Set(secrets.filter((s): s is string => s !== undefined && s.length >= 4))]
    .sort((a, b) => b.length - a.length);
  const pattern = values.length === 0
    ? undefined
    : new RegExp(values.map((value) => Array.from(value, anyEncoding).join("")).join("|"), "g");
  // Known secrets first: a password holding "@" would otherwise be cut at its first "@" by the
  // URL rule and half of it left in the text.
  return (text) =>
    (pattern === undefined ? text : text.replace(pattern, "***")).replace(
      URL_PASSWORD,
      "://$1:***@",
    );
}

/**
 * A URL's password (`://user:password@`). Its match starts only at `://` and each part is
 * bounded, so the time stays linear in the text: the earlier `\w+://…` tried every position of a
 * long run of letters and backtracked over the rest of it (a 60,000-letter request path took 3 s
 * to log, and blocked the server meanwhile).
 */
const URL_PASSWORD = /:\/\/([^:/@\s]{0,256}):[^@\s]{0,1024}@/g;

const encoder = new TextEncoder();

/** A regular expression matching one character of a secret in any of its encodings. */
function anyEncoding(char: string): string {
  const bytes = Array.from(encoder.encode(char));
  const percent = bytes.map((b) => "%" + hexEitherCase(b)).join("");
  const alternatives = [
    literal(char),
    percent,
    percent.replaceAll("%", "%25"), // encoded twice
    ...jsonEscapes(char),
  ];
  if (char === " ") alternatives.push("\\+");
  return `(?:${alternatives.join("|")})`;
}

function hexEitherCase(n: number, width = 2): string {
  return Array.from(
    n.toString(16).padStart(width, "0"),
    (d) => /[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d,
  ).join("");
}

/** `\"`, `\\`, `\/` and `\uXXXX` forms of a character inside a JSON string. */
function jsonEscapes(char: string): string[] {
  const units = Array.from({ length: char.length }, (_, i) => char.charCodeAt(i));
  const forms = [units.map((u) => String.raw`\\u` + hexEitherCase(u, 4)).join("")];
  if (char === '"' || char === "\\" || char === "/") forms.push(String.raw`\\` + literal(char));
  return forms;
}

function literal(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}
