/**
 * The UTF-16 encoding of a file's first bytes, or undefined for anything else (UTF-8 and ASCII).
 * Spreadsheet tools save "Unicode text" as UTF-16, with a byte-order mark or without one (then
 * NUL bytes sit between the header's characters).
 *
 * @example
 * ```ts
 * utf16Encoding(new Uint8Array([0xff, 0xfe, 0x74, 0x00])); // "utf-16le"
 * utf16Encoding(new TextEncoder().encode("ticket_id")); // undefined
 * ```
 */
export function utf16Encoding(b: Uint8Array): "utf-16le" | "utf-16be" | undefined {
  if (b[0] === 0xfe && b[1] === 0xff) return "utf-16be";
  if (b[0] === 0xff && b[1] === 0xfe) return "utf-16le";
  if (b.length < 4) return undefined;
  if (b[0] === 0 && b[1] !== 0 && b[2] === 0 && b[3] !== 0) return "utf-16be";
  if (b[0] !== 0 && b[1] === 0 && b[2] !== 0 && b[3] === 0) return "utf-16le";
  return undefined;
}
