// SQL helpers shared by the stages. Private to core/.

/** Quotes a schema-qualified identifier such as `tickets.inc`. */
export function ident(qualified: string): string {
  return qualified.split(".").map((part) => `"${part.replaceAll('"', '""')}"`).join(".");
}

/** The SQLSTATE of `error` or of a cause of it (a few levels down: a cause may loop). */
export function sqlState(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = e.cause;
  }
  return undefined;
}
