// PostgreSQL COPY text format, shared by both database adapters. Private to this folder.

/** Encodes rows as COPY text: tab-separated, `\N` for null, backslash escapes. */
export function encodeCopyText(rows: readonly (readonly (string | null)[])[]): string {
  let out = "";
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      if (i > 0) out += "\t";
      const value = row[i];
      out += value == null ? "\\N" : escapeCopyValue(value);
    }
    out += "\n";
  }
  return out;
}

const SPECIAL = /[\\\t\n\r]/;

function escapeCopyValue(value: string): string {
  if (!SPECIAL.test(value)) return value;
  return value.replace(
    /[\\\t\n\r]/g,
    (c) => c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}
