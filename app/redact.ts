/**
 * Secret redaction for everything the worker prints or stores about a run.
 *
 * @module
 */

/** Returns a function that replaces every given secret, and any URL password, with `***`. */
export function createRedactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const values = secrets
    .filter((s): s is string => s !== undefined && s.length >= 4)
    .flatMap((s) => [s, encodeURIComponent(s)])
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.replace(/(\w+:\/\/[^:/@\s]*:)[^@\s]*@/g, "$1***@");
    for (const value of values) out = out.replaceAll(value, "***");
    return out;
  };
}
