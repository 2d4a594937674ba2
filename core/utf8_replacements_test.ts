import assert from "node:assert/strict";
import { utf8Replacements } from "./utf8_replacements.ts";

/** What the counter finds in `chunks`, fed as they are. */
function found(chunks: Uint8Array[]) {
  const counter = utf8Replacements();
  for (const chunk of chunks) counter.count(chunk);
  counter.end();
  return counter.found();
}

const bytes = (text: string) => new TextEncoder().encode(text);
const latin1 = (text: string) => Uint8Array.from([...text].map((c) => c.charCodeAt(0)));

Deno.test("a UTF-8 file, with accents and a real U+FFFD, has nothing replaced", () => {
  assert.equal(found([bytes("ticket_id,location_name\nWOT1,Café Nyeri �\n")]), undefined);
});

Deno.test("a Latin-1 file's accented letters are counted, with the line of the first", () => {
  const text = "ticket_id,location_name\nWOT1,Nairobi\nWOT2,Café Nyeri\nWOT3,Thika Señor\n";
  assert.deepEqual(found([latin1(text)]), { characters: 2, firstLine: 3 });
});

Deno.test("the count is the decoder's, wherever the chunks split the bytes", () => {
  // Against TextDecoder on the whole (csv-parse decodes the same way): random bytes mixing
  // ASCII, valid sequences, encoded U+FFFDs, stray continuation and lead bytes.
  const pieces = [
    [0x61],
    [0x0a],
    [0xc3, 0xa9],
    [0xef, 0xbf, 0xbd],
    [0xe9],
    [0xbf],
    [0xe2, 0x82],
    [0xf0, 0x9f, 0x98, 0x80],
    [0xef],
    [0xbd],
  ];
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let trial = 0; trial < 300; trial++) {
    const all = Uint8Array.from(
      Array.from({ length: 1 + random(40) }, () => pieces[random(pieces.length)]!).flat(),
    );
    const decoded = new TextDecoder().decode(all).match(/\uFFFD/g)?.length ?? 0;
    const expected = decoded - encodedCount(all);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < all.length;) {
      const size = 1 + random(5);
      chunks.push(all.slice(at, at + size));
      at += size;
    }
    assert.equal(found(chunks)?.characters ?? 0, expected, `bytes ${all.join(",")}`);
  }
});

/** Encoded U+FFFDs in `all` (EF BF BD always decodes as itself: EF is no continuation byte). */
function encodedCount(all: Uint8Array): number {
  let n = 0;
  for (let i = 0; i + 2 < all.length; i++) {
    if (all[i] === 0xef && all[i + 1] === 0xbf && all[i + 2] === 0xbd) n++;
  }
  return n;
}

Deno.test("a sequence cut off by the end of the file counts as one character", () => {
  assert.deepEqual(found([bytes("a\nb\n"), Uint8Array.of(0xe2, 0x82)]), {
    characters: 1,
    firstLine: 3,
  });
});
