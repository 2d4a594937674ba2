import assert from "node:assert/strict";
import { ChangeFileError } from "./change_file_error.ts";
import { type ChangeLine, isTrue, parseChangeFile, parseHeaderLine } from "./parse_change_file.ts";

const KEY = "automations/inc/changes/2026-06-15T17-00-00.csv";
const HEADER = "ticket_id,service_type,raw_status,region,is_alarm,owner,week_start,department";

/** The bytes of `input` as a stream, in chunks of `chunk` bytes (all at once by default). */
function streamOf(input: string | Uint8Array, chunk = Infinity): ReadableStream<Uint8Array> {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
  return ReadableStream.from(chunks);
}

/** Every line parseChangeFile() yields for `input`; `reread` re-streams the same bytes. */
async function parse(
  input: string | Uint8Array,
  options: { reread?: boolean; chunk?: number } = {},
): Promise<ChangeLine[]> {
  const lines: ChangeLine[] = [];
  const reread = options.reread === false
    ? undefined
    : () => Promise.resolve(streamOf(input, options.chunk));
  for await (const line of parseChangeFile(streamOf(input, options.chunk), { key: KEY, reread })) {
    lines.push(line);
  }
  return lines;
}

/** The ticket ids yielded, in order. */
function ids(lines: readonly ChangeLine[]): string[] {
  return lines.flatMap((l) => l.kind === "ticket" ? [l.ticketId] : []);
}

/** Each line as `kind@line` (tickets with their id), for comparing whole files at a glance. */
function summary(lines: readonly ChangeLine[]): string[] {
  return lines.map((l) => l.kind === "ticket" ? `${l.ticketId}@${l.line}` : `${l.kind}@${l.line}`);
}

function quarantined(lines: readonly ChangeLine[]) {
  return lines.flatMap((l) =>
    l.kind === "quarantine" ? [{ line: l.line, reason: l.reason, fields: l.fields }] : []
  );
}

async function parseError(input: string | Uint8Array): Promise<ChangeFileError> {
  const error = await parse(input).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ChangeFileError, `expected a ChangeFileError, got ${error}`);
  return error;
}

const row = (...values: string[]) => values.join(",");

Deno.test("parseChangeFile() yields one cleaned ticket per data line, numbered from the header", async () => {
  const lines = await parse(
    [
      HEADER,
      row(
        "WOT0000001",
        "inc",
        "In Progress",
        "Nairobi",
        "false",
        "Jane Wanjiru",
        "2026-06-08",
        "NOC",
      ),
      row("WOT0000002", "inc", "Closed", "Mombasa", "false", "Ali Hassan", "2026-06-08", "NOC"),
      "",
    ].join("\r\n"),
  );
  assert.deepEqual(lines, [
    {
      kind: "ticket",
      line: 2,
      ticketId: "WOT0000001",
      record: {
        ticket_id: "WOT0000001",
        service_type: "inc",
        raw_status: "IN PROGRESS",
        region: "nairobi",
        is_alarm: "false",
        owner: "Jane Wanjiru",
      },
    },
    {
      kind: "ticket",
      line: 3,
      ticketId: "WOT0000002",
      record: {
        ticket_id: "WOT0000002",
        service_type: "inc",
        raw_status: "CLOSED",
        region: "mombasa",
        is_alarm: "false",
        owner: "Ali Hassan",
      },
    },
  ]);
});

Deno.test("parseChangeFile() drops the export's bookkeeping columns", async () => {
  const header = "ticket_id,week_start,week_end,department,source_type,source_s3_bucket," +
    "source_s3_key,source_snapshot_id,owner";
  const [line] = await parse(
    `${header}\n${
      row("WOT1", "2026-06-08", "2026-06-14", "NOC", "xlsx", "exports", "a/b.xlsx", "s1", "Jane")
    }\n`,
  );
  assert.equal(line?.kind, "ticket");
  assert.deepEqual(line.record, { ticket_id: "WOT1", owner: "Jane" });
});

Deno.test("parseChangeFile() lowercases region, uppercases raw_status and leaves other case alone", async () => {
  const [line] = await parse(
    `ticket_id,region,raw_status,owner,cluster\nwot1,NAIROBI,resolved,Jane WANJIRU,Westlands\n`,
  );
  assert.equal(line?.kind, "ticket");
  assert.deepEqual(line.record, {
    ticket_id: "wot1",
    region: "nairobi",
    raw_status: "RESOLVED",
    owner: "Jane WANJIRU",
    cluster: "Westlands",
  });
});

Deno.test("parseChangeFile() reads empty values as null", async () => {
  const [line] = await parse(`ticket_id,region,raw_status,owner\nWOT1,,,""\n`);
  assert.equal(line?.kind, "ticket");
  assert.deepEqual(line.record, { ticket_id: "WOT1", region: null, raw_status: null, owner: null });
});

Deno.test("parseChangeFile() trims the ticket_id and keeps other values as written", async () => {
  const [line] = await parse(`ticket_id,owner\n"  WOT1 ",  Jane  \n`);
  assert.equal(line?.kind, "ticket");
  assert.equal(line.ticketId, "WOT1");
  assert.deepEqual(line.record, { ticket_id: "WOT1", owner: "  Jane  " });
});

Deno.test("parseChangeFile() parses quoted fields with commas, quotes and newlines", async () => {
  const location = 'ADR_MNT_Sarit Centre, "Block B"\r\nGround floor\nSDUS';
  const quoted = `"${location.replaceAll('"', '""')}"`;
  const lines = await parse(
    `ticket_id,location_name,owner\r\nWOT1,${quoted},Jane\r\nWOT2,"a,b",Ali\r\n`,
  );
  assert.deepEqual(ids(lines), ["WOT1", "WOT2"]);
  assert.equal(lines[0]?.kind === "ticket" && lines[0].record.location_name, location);
  assert.equal(lines[1]?.kind === "ticket" && lines[1].record.location_name, "a,b");
});

Deno.test("parseChangeFile() numbers a record that spans lines by the line it ends on", async () => {
  const text = `ticket_id,location_name\nWOT1,"Sarit Centre\nGround floor"\nWOT2,Ngara\n`;
  assert.deepEqual(summary(await parse(text)), ["WOT1@3", "WOT2@4"]);
});

Deno.test("parseChangeFile() reads LF, CRLF and lone CR line ends, mixed in one file", async () => {
  const text = `ticket_id,owner\r\nWOT1,Jane\nWOT2,Ali\rWOT3,Wanjiru\r\n`;
  assert.deepEqual(summary(await parse(text)), ["WOT1@2", "WOT2@3", "WOT3@4"]);
});

Deno.test("parseChangeFile() reads the last line without a line end", async () => {
  assert.deepEqual(ids(await parse(`ticket_id,owner\nWOT1,Jane\nWOT2,Ali`)), ["WOT1", "WOT2"]);
});

Deno.test("parseChangeFile() strips a byte order mark before the header", async () => {
  const [line] = await parse(`\uFEFFticket_id,owner\r\nWOT1,Jane\r\n`);
  assert.equal(line?.kind, "ticket");
  assert.deepEqual(line.record, { ticket_id: "WOT1", owner: "Jane" });
});

Deno.test("parseChangeFile() finds columns by header name in any order, case and padding", async () => {
  const lines = await parse(` OWNER ,Raw_Status,REGION, Ticket_ID \nJane,open,KISUMU,WOT1\n`);
  assert.deepEqual(lines, [{
    kind: "ticket",
    line: 2,
    ticketId: "WOT1",
    record: { owner: "Jane", raw_status: "OPEN", region: "kisumu", ticket_id: "WOT1" },
  }]);
});

Deno.test("parseChangeFile() keeps columns it does not know", async () => {
  const [line] = await parse(`ticket_id,escalation_level,notes\nWOT1,2,call first\n`);
  assert.equal(line?.kind, "ticket");
  assert.deepEqual(line.record, { ticket_id: "WOT1", escalation_level: "2", notes: "call first" });
});

Deno.test("parseChangeFile() reads a file with only a ticket_id column", async () => {
  assert.deepEqual(summary(await parse(`ticket_id\nWOT1\nWOT2\n`)), ["WOT1@2", "WOT2@3"]);
});

Deno.test("parseChangeFile() flags alarm rows for every spelling of true", async () => {
  const alarms = ["TRUE", "true", "t", "1", "yes", "Y", " True "];
  const tickets = ["false", "FALSE", "0", "no", "", "maybe"];
  const text = [
    "ticket_id,is_alarm",
    ...alarms.map((v, i) => `ALARM${i},${v}`),
    ...tickets.map((v, i) => `TICKET${i},${v}`),
    "",
  ].join("\n");
  const lines = await parse(text);
  assert.deepEqual(
    lines.map((l) => l.kind),
    [...alarms.map(() => "alarm"), ...tickets.map(() => "ticket")],
  );
  assert.deepEqual(lines[0], { kind: "alarm", line: 2 });
  assert.deepEqual(ids(lines), tickets.map((_, i) => `TICKET${i}`));
});

Deno.test("parseChangeFile() reads no row as an alarm when the file has no is_alarm column", async () => {
  assert.deepEqual(summary(await parse(`ticket_id,owner\nWOT1,TRUE\n`)), ["WOT1@2"]);
});

Deno.test("parseChangeFile() flags the EXPORT STOPPED sentinel wherever it is", async () => {
  const sentinel = "EXPORT STOPPED DUE TO EXCESSIVE SIZE - 50000 ROW LIMIT";
  const text = [
    HEADER,
    row(sentinel, "", "", "", "", "", "", ""),
    row("WOT1", "inc", "Open", "Nairobi", "false", "Jane", "", ""),
    `"  export stopped: upstream timeout"`, // one field only: still the sentinel, not a bad line
    row("WOT2", "inc", "Open", "Nairobi", "false", "Ali", "", ""),
    "",
  ].join("\r\n");
  assert.deepEqual(summary(await parse(text)), ["sentinel@2", "WOT1@3", "sentinel@4", "WOT2@5"]);
});

Deno.test("parseChangeFile() quarantines a line with the wrong number of fields", async () => {
  const text = [
    "ticket_id,service_type,raw_status,owner",
    "WOT1,inc,Open,Jane",
    "WOT2,inc,Open",
    "WOT3,inc,Open,Ali,extra",
    "WOT4,inc,Open,Wanjiru",
    "WOT5",
    "",
  ].join("\r\n");
  const lines = await parse(text);
  assert.deepEqual(ids(lines), ["WOT1", "WOT4"]);
  assert.deepEqual(quarantined(lines), [
    { line: 3, reason: "has 3 fields, header has 4", fields: ["WOT2", "inc", "Open"] },
    {
      line: 4,
      reason: "has 5 fields, header has 4",
      fields: ["WOT3", "inc", "Open", "Ali", "extra"],
    },
    { line: 6, reason: "has 1 field, header has 4", fields: ["WOT5"] }, // before: "1 fields"
  ]);
});

Deno.test("parseChangeFile() quarantines a line whose ticket_id is empty or blank", async () => {
  const lines = await parse(`ticket_id,owner\nWOT1,Jane\n,Ali\n"   ",Wanjiru\n,\nWOT5,Otieno\n`);
  assert.deepEqual(ids(lines), ["WOT1", "WOT5"]);
  assert.deepEqual(quarantined(lines), [
    { line: 3, reason: "has an empty ticket_id", fields: ["", "Ali"] },
    { line: 4, reason: "has an empty ticket_id", fields: ["   ", "Wanjiru"] },
    { line: 5, reason: "has an empty ticket_id", fields: ["", ""] },
  ]);
});

Deno.test("parseChangeFile() skips blank lines and keeps counting physical lines", async () => {
  const text = `ticket_id,owner\r\n\r\nWOT1,Jane\r\n\r\n\r\nWOT2,Ali\r\n\r\n`;
  assert.deepEqual(summary(await parse(text)), ["WOT1@3", "WOT2@6"]);
});

Deno.test("parseChangeFile() quarantines only the line with an unterminated quote when it can reread", async () => {
  const text = [
    "ticket_id,service_type,owner",
    "WOT1,inc,Jane",
    `"WOT2","inc","never closed`,
    "WOT3,inc,Ali",
    "WOT4,inc,Wanjiru",
    "",
  ].join("\r\n");
  const lines = await parse(text);
  assert.deepEqual(summary(lines), ["WOT1@2", "quarantine@3", "WOT3@4", "WOT4@5"]);
  assert.deepEqual(quarantined(lines), [{
    line: 3,
    reason: "has an unterminated quote",
    fields: [`"WOT2","inc","never closed`],
  }]);
});

Deno.test("parseChangeFile() quarantines a quote that the next line's quote cannot close", async () => {
  const text = [
    `"ticket_id","owner"`,
    `"WOT1","Jane"`,
    `"WOT2","never closed`,
    `"WOT3","Ali"`,
    "",
  ].join("\r\n");
  const lines = await parse(text);
  assert.deepEqual(summary(lines), ["WOT1@2", "quarantine@3", "WOT3@4"]);
  assert.deepEqual(quarantined(lines), [{
    line: 3,
    reason: "has an unterminated or stray quote",
    fields: [`"WOT2","never closed`],
  }]);
});

Deno.test("parseChangeFile() quarantines a stray quote inside an unquoted field", async () => {
  const lines = await parse(`ticket_id,owner\nWOT1,Jane\nWOT2,Ja"ne\nWOT3,Ali\n`);
  assert.deepEqual(summary(lines), ["WOT1@2", "quarantine@3", "WOT3@4"]);
  assert.deepEqual(quarantined(lines)[0]?.fields, [`WOT2,Ja"ne`]);
});

Deno.test("parseChangeFile() recovers from two broken lines in one file", async () => {
  const text = [
    "ticket_id,owner",
    `"WOT1","open`,
    `"WOT2","Jane"`,
    `"WOT3","open`,
    `"WOT4","Ali"`,
    "",
  ].join("\r\n");
  const lines = await parse(text);
  assert.deepEqual(summary(lines), ["quarantine@2", "WOT2@3", "quarantine@4", "WOT4@5"]);
  assert.deepEqual(quarantined(lines).map((q) => q.reason), [
    "has an unterminated or stray quote",
    "has an unterminated or stray quote",
  ]);
});

Deno.test("parseChangeFile() quarantines an unterminated quote on the last line", async () => {
  const lines = await parse(`ticket_id,owner\nWOT1,Jane\nWOT2,Ali\n"WOT3","unfinished`);
  assert.deepEqual(summary(lines), ["WOT1@2", "WOT2@3", "quarantine@4"]);
  assert.deepEqual(quarantined(lines), [{
    line: 4,
    reason: "has an unterminated quote",
    fields: [`"WOT3","unfinished`],
  }]);
});

Deno.test("parseChangeFile() recovers from a stray quote in a file of lone-CR line ends", async () => {
  const lines = await parse(`ticket_id,owner\rWOT1,Jane\rWOT2,in"c\rWOT3,Ali\r`);
  assert.deepEqual(summary(lines), ["WOT1@2", "quarantine@3", "WOT3@4"]);
});

Deno.test("parseChangeFile() recovers from a broken line after a multi-line field", async () => {
  const text = `ticket_id,owner\nWOT1,"old\n1\n2"\nWOT2,in"c\nWOT1,new\n`;
  const lines = await parse(text);
  assert.deepEqual(summary(lines), ["WOT1@4", "quarantine@5", "WOT1@6"]);
  assert.deepEqual(
    lines.flatMap((l) => l.kind === "ticket" ? [l.record.owner] : []),
    ["old\n1\n2", "new"],
  );
});

Deno.test("parseChangeFile() recovers from a broken line in a file read in small chunks", async () => {
  const good = Array.from({ length: 300 }, (_, i) => `WOT${i},Jane Wanjiru,Nairobi`);
  const text = ["ticket_id,owner,region", 'WOTX,Ja"ne,Nairobi', ...good, ""].join("\r\n");
  const lines = await parse(text, { chunk: 1000 });
  assert.equal(lines[0]?.kind, "quarantine");
  assert.equal(lines[0].line, 2);
  assert.deepEqual(ids(lines), good.map((_, i) => `WOT${i}`));
  assert.equal(lines.at(-1)?.line, 302);
});

Deno.test("parseChangeFile() without reread quarantines the rest of the file after a broken quote", async () => {
  const text = `ticket_id,owner\nWOT1,Jane\n"WOT2","open\nWOT3,Ali\n`;
  const lines = await parse(text, { reread: false });
  assert.deepEqual(summary(lines), ["WOT1@2", "quarantine@3"]);
  assert.match(
    quarantined(lines)[0]!.reason,
    /quote: this line and the rest of the file could not be read$/,
  );
});

Deno.test("parseChangeFile() replaces NUL bytes in values and drops them from header names", async () => {
  const [line, badId] = await parse(`ticket_id\0,owner\nWOT1,AB\0CD\nWOT\x002,EF\n`);
  assert.equal(line?.kind, "ticket");
  assert.deepEqual(line.record, { ticket_id: "WOT1", owner: "AB\uFFFDCD" });
  // A ticket id with a control character cannot be a ticket id: quarantined (issue 11).
  assert.equal(badId?.kind, "quarantine");
});

Deno.test("parseChangeFile() reads invalid UTF-8 as U+FFFD and keeps the row", async () => {
  const bytes = new TextEncoder().encode("ticket_id,owner\nWOT1,JOSE\n");
  bytes[bytes.length - 2] = 0xff; // the E of JOSE
  const [line] = await parse(bytes);
  assert.equal(line?.kind, "ticket");
  assert.equal(line.record.owner, "JOS\uFFFD");
});

Deno.test("parseChangeFile() reads multi-byte characters split across chunks", async () => {
  const text = "ticket_id,owner,location_name\nWOT1,José Muñoz,Ngara – Kĩambu 🚧\n";
  const [line] = await parse(text, { chunk: 1 });
  assert.equal(line?.kind, "ticket");
  assert.deepEqual(line.record, {
    ticket_id: "WOT1",
    owner: "José Muñoz",
    location_name: "Ngara – Kĩambu 🚧",
  });
});

Deno.test("parseChangeFile() yields nothing for a header without rows", async () => {
  assert.deepEqual(await parse(`${HEADER}\r\n`), []);
});

Deno.test("parseChangeFile() throws ChangeFileError for an empty file", async () => {
  for (const text of ["", "\r\n\r\n", "\uFEFF"]) {
    const error = await parseError(text);
    assert.equal(
      error.message,
      `Cannot apply change file "${KEY}": line 1 has no header row: the file is empty`,
      JSON.stringify(text),
    );
    assert.equal(error.key, KEY);
    assert.equal(error.line, 1);
  }
});

Deno.test("parseChangeFile() throws ChangeFileError when the first line is a data row", async () => {
  const error = await parseError(`WOT1,inc,Open\nWOT2,inc,Open\n`);
  assert.equal(
    error.message,
    `Cannot apply change file "${KEY}": line 1 has no "ticket_id" column in its header`,
  );
  assert.equal(error.line, 1);
});

Deno.test("parseChangeFile() says a header separated by another character than commas is one", async () => {
  // Before: only 'has no "ticket_id" column', though the header starts with ticket_id.
  for (
    const [text, word] of [
      ["ticket_id;service_type;Owner\nWOT1;inc;Jane\n", '";"'],
      ["Ticket_ID\tservice_type\nWOT1\tinc\n", "tabs"],
    ] as const
  ) {
    assert.equal(
      (await parseError(text)).message,
      `Cannot apply change file "${KEY}": line 1 has no "ticket_id" column in its header (its ` +
        `fields are separated by ${word}, not commas: export it as comma-separated CSV)`,
    );
  }
});

Deno.test("parseChangeFile() says a file that is gzip or zip inside is compressed", async () => {
  const csv = new TextEncoder().encode("ticket_id,service_type\nWOT1,inc\n");
  const gzip = new Uint8Array(
    await new Response(
      new Blob([csv]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  // Before: only 'has no "ticket_id" column in its header'.
  assert.equal(
    (await parseError(gzip)).message,
    `Cannot apply change file "${KEY}": line 1 has no "ticket_id" column in its header (the ` +
      `file is gzip-compressed: put the CSV itself in the bucket, uncompressed)`,
  );
  const zip = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x0a, 0x0a, 0x41, 0x0a]);
  assert.match((await parseError(zip)).message, /\(the file is zip-compressed: /);
});

Deno.test("parseChangeFile() throws ChangeFileError for a header with an empty or repeated name", async () => {
  assert.equal(
    (await parseError(`ticket_id,,owner\nWOT1,x,y\n`)).message,
    `Cannot apply change file "${KEY}": line 1 has an empty column name in its header`,
  );
  assert.equal(
    (await parseError(`ticket_id,owner,OWNER\nWOT1,x,y\n`)).message,
    `Cannot apply change file "${KEY}": line 1 repeats column "owner" in its header`,
  );
});

Deno.test("parseChangeFile() names the line of a header after blank lines", async () => {
  const error = await parseError(`\n\nid,owner\nWOT1,Jane\n`);
  assert.equal(error.line, 3);
  assert.match(error.message, /: line 3 has no "ticket_id" column in its header$/);
});

Deno.test("parseChangeFile() throws ChangeFileError for a broken quote in the header", async () => {
  const error = await parseError(`ticket_id,"owner\nWOT1,Jane\n`);
  assert.equal(error.key, KEY);
  assert.match(
    error.message,
    /^Cannot apply change file ".*": line \d+ has an unterminated quote$/,
  );
});

Deno.test("parseChangeFile() throws ChangeFileError for binary garbage", async () => {
  const gzip = Uint8Array.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0xff, 0x0a]);
  const error = await parseError(gzip);
  assert.equal(error.line, 1);
  assert.match(error.message, /has no "ticket_id" column in its header \(the file is gzip-/);
});

Deno.test("isTrue() reads the feed's spellings of true, in any case and padding", () => {
  for (const value of ["true", "TRUE", "t", "T", "1", "yes", "Yes", "y", " true "]) {
    assert.equal(isTrue(value), true, value);
  }
  for (const value of ["false", "f", "0", "no", "n", "", "maybe", "2", null, undefined]) {
    assert.equal(isTrue(value), false, String(value));
  }
});

Deno.test("ChangeFileError names the key, the line and the reason", () => {
  const cause = new Error("inner");
  const error = new ChangeFileError(KEY, "has 31 fields, header has 32", { line: 4, cause });
  assert.equal(error.name, "ChangeFileError");
  assert.equal(
    error.message,
    `Cannot apply change file "${KEY}": line 4 has 31 fields, header has 32`,
  );
  assert.equal(error.key, KEY);
  assert.equal(error.line, 4);
  assert.equal(error.cause, cause);
  assert.ok(error instanceof Error);
  const nowhere = new ChangeFileError(KEY, "is not valid CSV");
  assert.equal(nowhere.message, `Cannot apply change file "${KEY}": is not valid CSV`);
  assert.equal(nowhere.line, undefined);
});

Deno.test("parseChangeFile() gives up on a file with more than 100 broken lines", async () => {
  const broken = Array.from({ length: 101 }, (_, i) => `WOT${i},Ja"ne`);
  const lines: ChangeLine[] = [];
  const text = ["ticket_id,owner", "WOTA,Jane", ...broken, ""].join("\n");
  const stream = () => streamOf(text);
  const error = await (async () => {
    for await (
      const line of parseChangeFile(stream(), {
        key: KEY,
        reread: () => Promise.resolve(stream()),
      })
    ) lines.push(line);
  })().then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof ChangeFileError);
  assert.equal(
    error.message,
    `Cannot apply change file "${KEY}": line 103 is the file's 101st line with broken quotes ` +
      "(at most 100 are set aside in a file); the file was not loaded",
  );
  assert.equal(lines.filter((l) => l.kind === "quarantine").length, 100);
});

Deno.test("parseHeaderLine() reads a header without quotes exactly as csv-parse reads it quoted", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  const quoted = (fields: string[]) => fields.map((f) => `"${f}"`).join(",");
  const outcome = (bytes: Uint8Array) => {
    try {
      return parseHeaderLine("automations/inc/changes/x.csv", bytes);
    } catch (error) {
      return (error as Error).message;
    }
  };
  const headers = [
    ["ticket_id", "region", "raw_status", "is_alarm"],
    [" Ticket_ID ", "REGION", "x\0y", ""],
    ["a", "ticket_id", "a"],
    ["no_id", "b"],
    ["\uFEFFticket_id", "caf\u00e9"],
    [""],
  ];
  for (const fields of headers) {
    const plain = fields.join(",");
    assert.ok(!plain.includes('"'));
    assert.deepEqual(outcome(encode(plain)), outcome(encode(quoted(fields))), plain);
  }
  // Invalid UTF-8 decodes to U+FFFD both ways.
  const invalid = new Uint8Array([...encode("ticket_id,r"), 0xff, ...encode("x")]);
  const invalidQuoted = new Uint8Array([...encode('"ticket_id","r'), 0xff, ...encode('x"')]);
  assert.deepEqual(outcome(invalid), outcome(invalidQuoted));
});
