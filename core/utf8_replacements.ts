/**
 * Counts the characters of a byte stream that are not UTF-8, as a decoder replaces them (each
 * maximal ill-formed sequence becomes one U+FFFD, the WHATWG rule csv-parse's decoding follows
 * too), and the line of the first. A change file saved as Latin-1 or a Windows code page loads
 * with `�` in place of each accented letter: the rows are kept, and the report says how many
 * letters were lost and where, so the export can be fixed and sent again.
 *
 * @module
 */

/** Characters of a file that were not UTF-8. */
export interface Utf8Replacements {
  /** How many: each is stored as U+FFFD (`�`). */
  characters: number;
  /** The line of the first (1-based; a line ends at each line feed). */
  firstLine: number;
}

/**
 * A counter fed the bytes as they pass (by the reader's own stream: a stage of its own would read
 * ahead of the reader), and what it found once they ended.
 */
export interface Utf8ReplacementCounter {
  /** Counts the next chunk of bytes. */
  count(chunk: Uint8Array): void;
  /** The bytes ended: a sequence cut off by the end counts too. */
  end(): void;
  /** What was found; undefined when every byte was UTF-8 (or the bytes have not ended). */
  found(): Utf8Replacements | undefined;
}

const REPLACEMENT = "\uFFFD";
/** U+FFFD encoded: the same character sent as valid UTF-8, which is no replacement. */
const ENCODED = [0xef, 0xbf, 0xbd] as const;

/**
 * A counter of the characters that are not UTF-8 in the bytes it is fed.
 *
 * @example A Latin-1 "é" and a truncated sequence at the end
 * ```ts
 * import assert from "node:assert/strict";
 * import { utf8Replacements } from "./utf8_replacements.ts";
 *
 * const counter = utf8Replacements();
 * const bytes = Uint8Array.of(0x61, 0x0a, 0x43, 0x61, 0x66, 0xe9, 0x0a, 0xef, 0xbf, 0xbd, 0xe2, 0x82);
 * counter.count(bytes);
 * counter.end();
 * assert.deepEqual(counter.found(), { characters: 2, firstLine: 2 }); // "Caf\xe9", and "\xe2\x82"
 * ```
 */
export function utf8Replacements(): Utf8ReplacementCounter {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let characters = 0;
  let firstLine = 0;
  let line = 1;
  let tail = new Uint8Array(0); // the last 2 bytes seen, for an encoded U+FFFD split across chunks
  const look = (text: string, sent: number) => {
    const replaced = count(text, REPLACEMENT) - sent;
    if (replaced > 0 && characters === 0) {
      firstLine = line + count(text.slice(0, text.indexOf(REPLACEMENT)), "\n");
    }
    characters += Math.max(0, replaced);
    line += count(text, "\n");
  };
  return {
    count(chunk) {
      look(decoder.decode(chunk, { stream: true }), encodedIn(chunk, tail));
      tail = chunk.length >= 2 ? chunk.slice(-2) : Uint8Array.of(...tail, ...chunk).slice(-2);
    },
    end() {
      look(decoder.decode(), 0);
    },
    found: () => characters === 0 ? undefined : { characters, firstLine },
  };
}

/** How often `what` occurs in `text`. */
function count(text: string, what: string): number {
  let n = 0;
  for (let i = text.indexOf(what); i !== -1; i = text.indexOf(what, i + 1)) n++;
  return n;
}

/** Encoded U+FFFDs that end in `chunk`, `before` being the (up to 2) bytes just before it. */
function encodedIn(chunk: Uint8Array, before: Uint8Array): number {
  const at = (i: number) => i < 0 ? before[before.length + i] : chunk[i];
  const [a, b, c] = ENCODED;
  let n = 0;
  for (let i = -before.length; i < 0; i++) {
    if (at(i) === a && at(i + 1) === b && at(i + 2) === c) n++;
  }
  for (let i = chunk.indexOf(a); i !== -1; i = chunk.indexOf(a, i + 1)) {
    if (chunk[i + 1] === b && chunk[i + 2] === c) n++;
  }
  return n;
}
