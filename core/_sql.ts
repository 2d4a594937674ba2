// SQL helpers shared by the stages. Private to core/.

/** Quotes a schema-qualified identifier such as `tickets.inc`. */
export function ident(qualified: string): string {
  return qualified.split(".").map((part) => `"${part.replaceAll('"', '""')}"`).join(".");
}
