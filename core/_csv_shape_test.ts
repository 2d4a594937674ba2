import assert from "node:assert/strict";
import { CsvShape } from "./_csv_shape.ts";

const encoder = new TextEncoder();

/** Scans `text` in chunks of the given sizes (cycled). */
function scan(text: string | Uint8Array, sizes: number[] = [1 << 20], maxFieldBytes = 1000) {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  const shape = new CsvShape(maxFieldBytes);
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length]!;
    shape.push(bytes.subarray(at, at + size));
    at += size;
  }
  shape.finish();
  return {
    notPlain: shape.notPlain,
    records: shape.records,
    header: shape.headerBytes && new TextDecoder().decode(shape.headerBytes),
  };
}

/** The byte-at-a-time definition of a plain file (what CsvShape did before it skipped runs). */
function reference(bytes: Uint8Array, maxFieldBytes: number) {
  let state = 0, fields = 0, fieldBytes = 0, recordBytes = 0, headerFields = -1, records = 0;
  let afterCr = false, notPlain: string | undefined, header: number[] | undefined;
  const head: number[] = [];
  const fail = (reason: string) => void (notPlain ??= reason);
  const endRecord = () => {
    if (header === undefined) [header, headerFields] = [[...head], fields + 1];
    else if (fields + 1 !== headerFields) {
      return fail(`a record with ${fields + 1} fields, header has ${headerFields}`);
    } else records++;
    [fields, fieldBytes, recordBytes, state] = [0, 0, 0, 0];
  };
  const lineEnd = (b: number) => {
    if (recordBytes === 0) return fail("a blank line");
    if (header === undefined) head.pop();
    afterCr = b === 13;
    endRecord();
  };
  const endField = () =>
    void ([fields, fieldBytes, recordBytes, state] = [fields + 1, 0, recordBytes + 1, 0]);
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (; i < bytes.length && notPlain === undefined; i++) {
    const b = bytes[i]!;
    if (header === undefined) head.push(b);
    if (b === 0) {
      fail("a NUL byte");
      continue;
    }
    if (b === 10 && afterCr && recordBytes === 0) {
      afterCr = false;
      if (header === undefined) head.pop();
      continue;
    }
    afterCr = false;
    if (state === 2) { // inside quotes: only a quote matters
      if (b === 34) state = 3;
    } else if (b === 44) {
      endField();
      continue;
    } else if (b === 10 || b === 13) {
      lineEnd(b);
      continue;
    } else if (b === 34) {
      if (state === 1) {
        fail("a quote inside an unquoted field");
        continue;
      }
      state = 2; // opens a field, or a doubled quote inside one
    } else if (state === 3) {
      fail("text after a closing quote");
      continue;
    } else state = 1;
    recordBytes++;
    if (++fieldBytes > maxFieldBytes) fail("a field over the size limit");
  }
  if (notPlain === undefined) {
    if (state === 2) notPlain = "an unterminated quote";
    else if (recordBytes > 0) endRecord();
    if (header === undefined && notPlain === undefined) notPlain = "no header";
  }
  return {
    notPlain,
    records,
    header: header && new TextDecoder().decode(Uint8Array.from(header)),
  };
}

Deno.test("CsvShape: a plain file's records and header, however it is chunked", () => {
  const text =
    '\ufeffticket_id,status,note\r\nINC1,Open,"a, b"\r\nINC2,Closed,"say ""hi"""\r\nINC3,,x';
  for (const sizes of [[1 << 20], [1], [2, 3], [7]]) {
    assert.deepEqual(scan(text, sizes), {
      notPlain: undefined,
      records: 3,
      header: "ticket_id,status,note",
    });
  }
});

Deno.test("CsvShape: names why a file is not plain", () => {
  const cases: [string, string][] = [
    ['a,b\nx,y"z\n', "a quote inside an unquoted field"],
    ['a,b\nx,"y"z\n', "text after a closing quote"],
    ['a,b\nx,"y\n', "an unterminated quote"],
    ["a,b\nx,y\n\nz,w\n", "a blank line"],
    ["a,b\nx,y,z\n", "a record with 3 fields, header has 2"],
    ["a,b\nx,y\0\n", "a NUL byte"],
    ["a,b\nx,yyyyyyyyyyyy\n", "a field over the size limit"],
    ['a,b\nx,"yyyyyy\nyyyyyyy"\n', "a field over the size limit"],
    ["", "no header"],
  ];
  for (const [text, reason] of cases) {
    assert.equal(scan(text, [1 << 20], 10).notPlain, reason, JSON.stringify(text));
    assert.equal(scan(text, [1], 10).notPlain, reason, JSON.stringify(text));
  }
});

Deno.test("CsvShape: skipping runs of field bytes gives the byte-at-a-time answer on random files", () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = [...'aaaaaaaabbbb  ,,,,""\n\r'].map((c) => c.charCodeAt(0)).concat([0]);
  for (let trial = 0; trial < 3000; trial++) {
    const header = encoder.encode(["a,b,c\n", "a,b,c\r\n", '\ufeffa,"b",c\n'][trial % 3]!);
    const body = Array.from(
      { length: Math.floor(random() * 80) },
      () =>
        alphabet[Math.floor(random() * (random() < 0.9 ? alphabet.length - 1 : alphabet.length))]!,
    );
    const bytes = Uint8Array.from([...header, ...body]);
    const max = 1 + Math.floor(random() * 12);
    // A first chunk of 3 bytes or more: a byte-order mark split across chunks is not recognised
    // (such a file takes the JavaScript way, which reads it right).
    const sizes = [3 + Math.floor(random() * 9), 1 + Math.floor(random() * 30)];
    assert.deepEqual(scan(bytes, sizes, max), reference(bytes, max), `trial ${trial}`);
  }
});

Deno.test("CsvShape: a file that quotes every field gives the byte-at-a-time answer, whatever its chunks", () => {
  // Mostly `"…","…"` records (where a field's end and the next one's start are counted at once),
  // with quotes doubled or stray, commas, NUL, line ends and long fields mixed in.
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const inside = ["a", "bb", "", "c d", '""', ",", "\n", "\0", '"', "xxxxxxxxxxxx"];
  const between = [",", ",", ",", ",", "\n", "\r\n", ", ", ",,", ""];
  for (let trial = 0; trial < 3000; trial++) {
    let text = '"a","b","c"\n';
    const fields = Math.floor(random() * 24);
    for (let f = 0; f < fields; f++) {
      const value = Array.from({ length: Math.floor(random() * 3) }, () => pick(inside)).join("");
      text += `"${value}"${f % 3 === 2 ? pick(["\n", "\r\n"]) : pick(between)}`;
    }
    const bytes = encoder.encode(text);
    const max = 2 + Math.floor(random() * 14);
    const sizes = [3 + Math.floor(random() * 9), 1 + Math.floor(random() * 40)];
    assert.deepEqual(scan(bytes, sizes, max), reference(bytes, max), `trial ${trial}`);
    assert.deepEqual(scan(bytes, [1 << 20], max), reference(bytes, max), `trial ${trial}, whole`);
  }
});
