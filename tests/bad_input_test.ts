// The bad-input corpus (issue 7): malformed and hostile change files between a good baseline and
// a good delta. Files with bad lines all go into one stream drained by one run: each bad line is
// quarantined with file, line and reason and every good row lands. Files that cannot be read at
// all (no usable header) fail alone, naming file, line and reason, and keep the stream's order:
// the run stops there without losing anything, and goes on once the file is removed or fixed.

import assert from "node:assert/strict";
import { COLUMNS, DROPPED_COLUMNS, generateStream, renderCsv } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain, type DrainReport, type FileReport } from "../core/drain.ts";
import type { Database } from "../core/ports/mod.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { migrate } from "../core/migrate.ts";
import {
  backends,
  createScratchDatabase,
  diffState,
  drainedState,
  listNames,
  makeDirBucket,
  openTicket,
  removeTestDataAtEnd,
  shared,
} from "./_harness.ts";

const CHANGES = INC.changesPrefix;
const DROPPED = new Set(DROPPED_COLUMNS);

type Expected = Record<string, string | null>;

/** One bad file and what must happen to it. */
interface Case {
  name: string;
  body: string | Uint8Array;
  /** Full key, for keys that look like change files but are not. */
  key?: string;
  /** Cleaned records from this file that must land. */
  lands?: Expected[];
  /** Lines that must be quarantined, with their reason. */
  quarantined?: [number, RegExp][];
  /** How many lines are quarantined, when too many to list. */
  quarantinedCount?: number;
  /**
   * The file cannot be read at all (no usable header): it fails alone with this line and
   * reason, stays in `changes/`, and later files wait for it (the order of the stream).
   */
  fails?: [number, RegExp];
  /** The key is not a change file: never read, never moved. */
  ignored?: boolean;
  /** Characters that were not UTF-8, as the file's report must give them (none when absent). */
  notUtf8?: { characters: number; firstLine: number };
  /** More checks on the database. */
  check?: (db: Database, report: DrainReport, file: FileReport) => Promise<void>;
}

function ticket(id: string, overrides: Record<string, string> = {}): Record<string, string> {
  return openTicket(id, {
    created_at: "2026-06-15 06:00:00",
    updated_at: "2026-06-15 06:00:00",
    department: "Field Ops",
    ...overrides,
  });
}

/** What the spec says a row becomes: dropped columns gone, "" as null, region/status cased. */
function cleaned(row: Record<string, string>, header: readonly string[] = COLUMNS): Expected {
  const out: Expected = {};
  for (const column of header) {
    if (DROPPED.has(column)) continue;
    const value = row[column] ?? "";
    out[column] = value === ""
      ? null
      : column === "region"
      ? value.toLowerCase()
      : column === "raw_status"
      ? value.toUpperCase()
      : value;
  }
  out.ticket_id = (row.ticket_id ?? "").trim();
  return out;
}

const quote = (v: string) => `"${v.replaceAll('"', '""')}"`;
const line = (values: readonly string[]) => values.map(quote).join(",");
const header = line(COLUMNS);
const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

function good(id: string, overrides: Record<string, string> = {}) {
  const row = ticket(id, overrides);
  return { text: line(COLUMNS.map((c) => row[c]!)), expected: cleaned(row) };
}

/**
 * A file whose header has `width` columns (the known ones and unknown extras): wider than the
 * copy table a session keeps for the database's parser (64 columns), yet parsed by the database
 * and kept whole in raw, like a file of the usual width.
 */
function wideCase(width: number): Case {
  const extras = Array.from({ length: width - COLUMNS.length }, (_, i) => `extra_${i + 1}`);
  const id = `BAD_WIDE_${width}`;
  const row = ticket(id, Object.fromEntries(extras.map((c, i) => [c, `v${i + 1}`])));
  const header = [...COLUMNS, ...extras];
  return {
    name: `a header of ${width} columns, ${extras.length} of them unknown`,
    body: renderCsv(header, [row]),
    lands: [cleaned(row, header)],
    check: byTheDatabase,
  };
}

/** A plain file's check: the database parsed it (a silent fall-back to JavaScript fails it). */
function byTheDatabase(_db: Database, _report: DrainReport, file: FileReport): Promise<void> {
  assert.equal(file.profile?.parsedBy, "database", "a plain file, parsed by the database");
  return Promise.resolve();
}

/** A file of good rows around one bad line. */
function around(prefix: string, bad: string, eol = "\r\n"): Case["body"] & string {
  return [header, good(`${prefix}_1`).text, bad, good(`${prefix}_3`).text, ""].join(eol);
}

const injection = `'); drop table tickets.inc; -- $1 \\' " \`\${x}\` %s`;
const jsonish = `{"ticket_id":"EVIL","raw":null}\\u0000 \\" </script> \u2028`;
const huge = "x".repeat(1 << 20);
const enormous = "y".repeat(50 * 1024 * 1024);

/** A file with an invalid two-byte sequence where a "W" was, and the line it is on. */
const invalidUtf8 = (() => {
  const bytes = new TextEncoder().encode(around("BAD_UTF8", good("BAD_UTF8_2").text));
  const at = bytes.indexOf("W".charCodeAt(0), new TextEncoder().encode(header).length + 200);
  bytes.set([0xc3, 0x28], at);
  return { bytes, line: bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1 };
})();

/** UTF-16 bytes of `text`, big- or little-endian, with or without a byte-order mark. */
function utf16(text: string, order: "be" | "le", bom: boolean): Uint8Array {
  const units = (bom ? "\uFEFF" : "") + text;
  const bytes = new Uint8Array(units.length * 2);
  for (let i = 0; i < units.length; i++) {
    const u = units.charCodeAt(i);
    bytes[2 * i + (order === "be" ? 0 : 1)] = u >> 8;
    bytes[2 * i + (order === "be" ? 1 : 0)] = u & 0xff;
  }
  return bytes;
}
const ragged = Array.from(
  { length: 5000 },
  (_, i) => line([`BADR_${i}`, "inc", "too", "few"]),
);

// Over 64 KiB of good rows: the break must not cut the file's byte count short.
const bigFill = Array.from({ length: 400 }, (_, i) => good(`BAD_BIGQ_${i + 1}`));

// The older row of BAD_ORDER (a field with CRLFs, which the parser counts as extra lines) ends
// just before the 128 KiB read boundary; the stray quote lies past it; the newer row follows.
const orderFill = Array.from({ length: 600 }, (_, i) => good(`BAD_ORDERF_${i}`));
function orderBody(): string {
  const old = good("BAD_ORDER", { owner: "old\r\n1\r\n2\r\n3\r\n4\r\n5\r\n6" }).text;
  const lines = [header];
  let bytes = header.length + 2;
  for (const row of orderFill) {
    if (bytes + row.text.length + 2 + old.length + 2 > 131_072 - 40) break;
    lines.push(row.text);
    bytes += row.text.length + 2;
  }
  const used = lines.length - 1;
  orderFill.splice(used);
  lines.push(old, `BAD_ORDER_X,${"y".repeat(100)}"z`, good("BAD_ORDER", { owner: "new" }).text, "");
  return lines.join("\r\n");
}

/** A file whose one row holds `value` in every field (the id prefixed with `id`). */
function hostile(name: string, id: string, value: string): Case {
  const row = Object.fromEntries(COLUMNS.map((c) => [c, c === "ticket_id" ? id + value : value]));
  return { name, body: renderCsv(COLUMNS, [row]), lands: [cleaned(row)] };
}

const absurd = {
  created_at_service: "9999-99-99 99:99:99",
  closed_at: "0000-00-00 00:00:00",
  scheduled_at: "2026-02-30 10:00",
  first_seen_at: "infinity",
  last_seen_at: "-1e309",
  mttr: "1e400",
};

const cases: Case[] = [
  {
    name: "no header: the first line is a data row",
    body: [good("BAD_NOHDR_1").text, good("BAD_NOHDR_2").text, ""].join("\r\n"),
    fails: [1, /has no "ticket_id" column in its header/],
  },
  {
    name: "the key column renamed",
    body: renderCsv(COLUMNS.map((c) => c === "ticket_id" ? "id" : c), [ticket("BAD_ID")]),
    fails: [1, /has no "ticket_id" column in its header/],
  },
  {
    name: "an empty column name in the header",
    body: `ticket_id,,owner\r\n"BAD_EMPTYCOL","x","y"\r\n`,
    fails: [1, /has an empty column name in its header/],
  },
  {
    name: "a column repeated in the header",
    body: `ticket_id,owner,owner\r\n"BAD_REPEAT","x","y"\r\n`,
    fails: [1, /repeats column "owner" in its header/],
  },
  {
    name: "columns in another order",
    body: renderCsv([...COLUMNS].reverse(), [ticket("BAD_REORDER")]),
    lands: [cleaned(ticket("BAD_REORDER"))],
  },
  {
    name: "unknown extra columns are kept in raw",
    body: renderCsv([...COLUMNS, "escalation_level", "notes"], [
      ticket("BAD_EXTRA", { escalation_level: "2", notes: "call first" }),
    ]),
    lands: [
      cleaned(ticket("BAD_EXTRA", { escalation_level: "2", notes: "call first" }), [
        ...COLUMNS,
        "escalation_level",
        "notes",
      ]),
    ],
  },
  wideCase(70),
  {
    // ASCII control characters lower- and upper-case alike in SQL and JavaScript: the database
    // parses such a file, and both ways give the same row (the corpus test compares them).
    name: "control characters in region and raw_status",
    body: renderCsv(COLUMNS, [
      ticket("BAD_CASED_CTRL", { region: "Nai\trobi\u0007", raw_status: "open\u007f" }),
    ]),
    lands: [
      cleaned(ticket("BAD_CASED_CTRL", { region: "Nai\trobi\u0007", raw_status: "open\u007f" })),
    ],
    check: byTheDatabase,
  },
  {
    // Letters beyond ASCII may case differently in the server's locale: the JavaScript way.
    name: "letters beyond ASCII in region and raw_status",
    body: renderCsv(COLUMNS, [
      ticket("BAD_LETTERS_CASE", { region: "MÜNCHEN", raw_status: "geöffnet" }),
    ]),
    lands: [cleaned(ticket("BAD_LETTERS_CASE", { region: "MÜNCHEN", raw_status: "geöffnet" }))],
    check: (_db, _report, file) => {
      assert.equal(file.profile?.parsedBy, "javascript");
      return Promise.resolve();
    },
  },
  {
    name: "most columns missing",
    body: `ticket_id,raw_status,region\r\n"BAD_FEW","Closed","KAMPALA"\r\n`,
    lands: [{ ticket_id: "BAD_FEW", raw_status: "CLOSED", region: "kampala" }],
    // After a 70-column file: the session's copy table is wider than this file, and reused.
    check: byTheDatabase,
  },
  wideCase(90), // wider than the table the 70-column file left in the session
  {
    name: "a row with too few fields",
    body: around("BAD_SHORT", line(["BAD_SHORT_2", "inc", "x", "y", "z"])),
    lands: [good("BAD_SHORT_1").expected, good("BAD_SHORT_3").expected],
    quarantined: [[3, /has 5 fields, header has 32/]],
  },
  {
    name: "a row with too many fields",
    body: around("BAD_LONG", good("BAD_LONG_2").text + ',"extra","more"'),
    lands: [good("BAD_LONG_1").expected, good("BAD_LONG_3").expected],
    quarantined: [[3, /has 34 fields, header has 32/]],
  },
  {
    name: "an unterminated quote in the middle",
    body: around("BAD_OPEN", `"BAD_OPEN_2","inc","never closed`),
    lands: [good("BAD_OPEN_1").expected, good("BAD_OPEN_3").expected],
    quarantined: [[3, /has an unterminated or stray quote/]],
  },
  {
    name: "an unterminated quote on the last line",
    body: [header, good("BAD_EOF_1").text, good("BAD_EOF_2").text, `"BAD_EOF_3","inc`].join("\n"),
    lands: [good("BAD_EOF_1").expected, good("BAD_EOF_2").expected],
    quarantined: [[4, /has an unterminated quote/]],
  },
  {
    name: "a stray quote inside an unquoted field",
    body: around("BAD_STRAY", ["BAD_STRAY_2", 'in"c', ...Array(30).fill("")].join(",")),
    lands: [good("BAD_STRAY_1").expected, good("BAD_STRAY_3").expected],
    quarantined: [[3, /has an unterminated or stray quote/]],
  },
  {
    name: "two broken lines in one file",
    body: [
      header,
      `"BAD_TWICE_1","open`,
      good("BAD_TWICE_2").text,
      `"BAD_TWICE_3","open`,
      good("BAD_TWICE_4").text,
      "",
    ].join("\r\n"),
    lands: [good("BAD_TWICE_2").expected, good("BAD_TWICE_4").expected],
    quarantined: [[2, /stray quote/], [4, /stray quote/]],
  },
  {
    name: "NUL bytes inside a field",
    body: around("BAD_NUL", good("BAD_NUL_2", { owner: "AB\0CD" }).text),
    lands: [
      good("BAD_NUL_1").expected,
      { ...good("BAD_NUL_2").expected, owner: "AB\uFFFDCD" },
      good("BAD_NUL_3").expected,
    ],
  },
  {
    name: "NUL bytes in the header",
    body: renderCsv(COLUMNS.map((c) => c === "ticket_id" ? "ticket_id\0" : c), [
      { ...ticket("BAD_NULHDR"), "ticket_id\0": "BAD_NULHDR" },
    ]),
    lands: [cleaned(ticket("BAD_NULHDR"))],
  },
  {
    name: "invalid UTF-8",
    body: invalidUtf8.bytes,
    notUtf8: { characters: 1, firstLine: invalidUtf8.line },
    check: async (db) => {
      const rows = await db.query<{ raw: string }>(
        `select raw::text as raw from tickets.inc where ticket_id like 'BAD_UTF8_%'`,
      );
      assert.equal(rows.length, 3, "all three rows land");
      assert.ok(rows.some((r) => r.raw.includes("\uFFFD(")), "the bad byte shows as U+FFFD");
    },
  },
  {
    name: "Latin-1 text",
    body: latin1(around("BAD_LATIN1", good("BAD_LATIN1_2", { owner: "JOSÉ MUÑOZ" }).text)),
    notUtf8: { characters: 2, firstLine: 3 }, // É and Ñ, on the second data line
    lands: [
      good("BAD_LATIN1_1").expected,
      { ...good("BAD_LATIN1_2").expected, owner: "JOS\uFFFD MU\uFFFDOZ" },
      good("BAD_LATIN1_3").expected,
    ],
  },
  {
    name: "a 1 MB field",
    body: around("BAD_HUGE", good("BAD_HUGE_2", { location_name: huge }).text),
    lands: [
      good("BAD_HUGE_1").expected,
      good("BAD_HUGE_2", { location_name: huge }).expected,
      good("BAD_HUGE_3").expected,
    ],
  },
  {
    name: "a 50 MB field (over the field limit: quarantined, not out of memory)",
    body: around("BAD_ENORMOUS", good("BAD_ENORMOUS_2", { location_name: enormous }).text),
    lands: [good("BAD_ENORMOUS_1").expected, good("BAD_ENORMOUS_3").expected],
    quarantined: [[3, /has a field of 52428800 characters in column "location_name" \(at most/]],
    check: async (db) => {
      const [q] = await db.query<{ size: number }>(
        `select length(record::text)::int as size from tickets.quarantine where line = 3
         and record ->> 0 = 'BAD_ENORMOUS_2'`,
      );
      assert.ok(q && q.size < 100_000, "the quarantined copy is cut, not 50 MB");
    },
  },
  {
    name: "a NUL byte in a row with too few fields",
    body: around("BAD_NULSHORT", line(["BAD_NULSHORT_2", "in\0c", "x"])),
    lands: [good("BAD_NULSHORT_1").expected, good("BAD_NULSHORT_3").expected],
    quarantined: [[3, /has 3 fields, header has 32/]],
    check: async (db) => {
      const [q] = await db.query<{ field: string }>(
        `select record ->> 1 as field from tickets.quarantine where record ->> 0 = 'BAD_NULSHORT_2'`,
      );
      assert.equal(q?.field, "in\uFFFDc", "NUL kept visible as U+FFFD");
    },
  },
  {
    name: "a NUL byte in a row with an empty ticket_id",
    body: around("BAD_NULNOID", good("", { owner: "A\0B" }).text),
    lands: [good("BAD_NULNOID_1").expected, good("BAD_NULNOID_3").expected],
    quarantined: [[3, /has an empty ticket_id/]],
  },
  {
    name: "a NUL byte in a line with a broken quote",
    body: around("BAD_NULQUOTE", `"BAD_NULQUOTE_2","in\0c","never closed`),
    lands: [good("BAD_NULQUOTE_1").expected, good("BAD_NULQUOTE_3").expected],
    quarantined: [[3, /has an unterminated or stray quote/]],
  },
  {
    name: "a UTF-16BE file without a byte-order mark",
    body: utf16(around("BAD_U16BE", line(["BAD_U16BE_X", "short"])), "be", false),
    lands: [good("BAD_U16BE_1").expected, good("BAD_U16BE_3").expected],
    quarantined: [[3, /has 2 fields, header has 32/]],
  },
  {
    name: "a UTF-16LE file with a byte-order mark",
    body: utf16(around("BAD_U16LE", good("BAD_U16LE_2", { owner: "JOSÉ" }).text), "le", true),
    lands: [
      good("BAD_U16LE_1").expected,
      good("BAD_U16LE_2", { owner: "JOSÉ" }).expected,
      good("BAD_U16LE_3").expected,
    ],
  },
  {
    name: "a 4,000-character ticket_id",
    body: around("BAD_LONGID", good("W".repeat(4000)).text),
    lands: [good("BAD_LONGID_1").expected, good("BAD_LONGID_3").expected],
    quarantined: [[3, /has a ticket_id of 4000 characters \(at most 200\)/]],
  },
  {
    name: "control characters in a ticket_id",
    body: around("BAD_CTRLID", good("BAD_CTRL\u0007ID\tX").text),
    lands: [good("BAD_CTRLID_1").expected, good("BAD_CTRLID_3").expected],
    quarantined: [[3, /has control characters in its ticket_id/]],
  },
  {
    name: "the header line repeated mid-file (two exports joined)",
    body: [header, good("BAD_TWOHDR_1").text, header, good("BAD_TWOHDR_3").text, ""].join("\r\n"),
    lands: [good("BAD_TWOHDR_1").expected, good("BAD_TWOHDR_3").expected],
    quarantined: [[3, /repeats the header line/]],
    check: async (db) => {
      const rows = await db.query(`select 1 from tickets.inc where lower(ticket_id) = 'ticket_id'`);
      assert.equal(rows.length, 0, "no ticket named ticket_id");
    },
  },
  { name: "a 0-byte file", body: "", fails: [1, /has no header row: the file is empty/] },
  { name: "a header and no rows", body: `${header}\r\n` },
  {
    name: "the same ticket twice: the last row wins",
    body: [
      header,
      good("BAD_DUP", { owner: "first" }).text,
      good("BAD_DUP", { owner: "second" }).text,
      "",
    ].join("\r\n"),
    lands: [good("BAD_DUP", { owner: "second" }).expected],
    check: (_db, report) => {
      const file = report.files.find((f) => f.counts?.duplicates === 1);
      assert.ok(file, "the duplicate is counted");
      return Promise.resolve();
    },
  },
  hostile("SQL injection strings in every field", "BAD_SQL", injection),
  hostile("JSON and escape sequences in every field", "BAD_JSON", jsonish),
  {
    name: "absurd dates and numbers",
    body: around(
      "BAD_DATES",
      good("BAD_DATES_2", absurd).text,
    ),
    lands: [
      good("BAD_DATES_1").expected,
      good("BAD_DATES_2", absurd).expected,
      good("BAD_DATES_3").expected,
    ],
    check: async (db) => {
      const [typed] = await db.query<Record<string, unknown>>(
        `select created_at_service, closed_at, scheduled_at, first_seen_at, last_seen_at
         from tickets.inc where ticket_id = 'BAD_DATES_2'`,
      );
      assert.deepEqual(Object.values(typed!), [null, null, null, null, null]);
    },
  },
  {
    name: "an empty ticket_id",
    body: around("BAD_NOID", good("").text),
    lands: [good("BAD_NOID_1").expected, good("BAD_NOID_3").expected],
    quarantined: [[3, /has an empty ticket_id/]],
  },
  {
    name: "a blank ticket_id",
    body: around("BAD_BLANKID", good("   ").text),
    lands: [good("BAD_BLANKID_1").expected, good("BAD_BLANKID_3").expected],
    quarantined: [[3, /has an empty ticket_id/]],
  },
  {
    name: "a line of bare commas",
    body: around("BAD_COMMAS", ",".repeat(31)),
    lands: [good("BAD_COMMAS_1").expected, good("BAD_COMMAS_3").expected],
    quarantined: [[3, /has an empty ticket_id/]],
  },
  {
    name: "a stray quote early in a file larger than one read chunk",
    body: [header, good("BAD_BIGQ_0").text, `BAD_BIGQ_X,in"c,x`, ...bigFill.map((r) => r.text), ""]
      .join("\r\n"),
    lands: [good("BAD_BIGQ_0").expected, ...bigFill.map((r) => r.expected)],
    quarantined: [[3, /has an unterminated or stray quote/]],
  },
  {
    name: "a ticket's older row with a multi-line field, a broken line, then its newer row",
    body: orderBody(),
    lands: [
      ...orderFill.map((r) => r.expected),
      good("BAD_ORDER", { owner: "new" }).expected,
    ],
    quarantinedCount: 1,
  },
  {
    name: "old Mac line ends (CR only) around a stray quote",
    body: [header, good("BAD_CR_1").text, `BAD_CR_2,in"c`, good("BAD_CR_3").text, ""].join("\r"),
    lands: [good("BAD_CR_1").expected, good("BAD_CR_3").expected],
    quarantined: [[3, /has an unterminated or stray quote/]],
  },
  {
    name: "blank lines between rows",
    body: [header, "", good("BAD_GAPS_1").text, "", "", good("BAD_GAPS_2").text, ""].join("\r\n"),
    lands: [good("BAD_GAPS_1").expected, good("BAD_GAPS_2").expected],
  },
  {
    name: "a BOM and bare LF line ends",
    body: "\uFEFF" + [header, good("BAD_BOMLF_1").text, ""].join("\n"),
    lands: [good("BAD_BOMLF_1").expected],
  },
  {
    name: "binary garbage (gzip bytes)",
    body: Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0x0a]),
    fails: [1, /has no "ticket_id" column in its header \(the file is gzip-compressed/],
  },
  {
    name: "a sentinel and nothing else",
    body: [header, line(["EXPORT STOPPED: upstream timeout", ...Array(31).fill("")]), ""].join(
      "\r\n",
    ),
  },
  {
    name: "header names in odd case with padding",
    body: renderCsv(COLUMNS.map((c) => c === "ticket_id" ? " TICKET_ID " : c.toUpperCase()), [
      Object.fromEntries(
        COLUMNS.map((
          c,
        ) => [c === "ticket_id" ? " TICKET_ID " : c.toUpperCase(), ticket("BAD_CASE")[c]!]),
      ),
    ]),
    lands: [cleaned(ticket("BAD_CASE"))],
  },
  {
    name: "quoted commas, quotes and newlines inside fields",
    body: around("BAD_QUOTED", good("BAD_QUOTED_2", { owner: 'A, "B"\r\nC' }).text),
    lands: [
      good("BAD_QUOTED_1").expected,
      good("BAD_QUOTED_2", { owner: 'A, "B"\r\nC' }).expected,
      good("BAD_QUOTED_3").expected,
    ],
  },
  {
    name: "5000 short rows and nothing good",
    body: [header, ...ragged, ""].join("\r\n"),
    quarantinedCount: 5000,
    check: async (db) => {
      const [n] = await db.query<{ n: number }>(
        `select count(*)::int as n from tickets.quarantine where record ->> 0 like 'BADR\\_%'`,
      );
      assert.equal(n?.n, 5000, "every short row is kept in quarantine");
    },
  },
  ...[
    "2026-06-15T06-40-00.csv.tmp",
    "2026-06-15T06-40-00.CSV",
    "2026-02-30T06-00-00.csv",
    "sub/2026-06-15T06-40-00.csv",
    "2026-06-15 06-40-00.csv",
    ".2026-06-15T06-40-00.csv",
    "2026-06-15T06-40-00.csv.part",
  ].map((name): Case => ({
    name: `a key that looks like a change file but is not: "${name}"`,
    key: CHANGES + name,
    body: renderCsv(COLUMNS, [ticket(`BAD_KEY_${name}`)]),
    ignored: true,
  })),
];

const streamCases = cases.filter((c) => !c.fails);
const unreadable = cases.filter((c) => c.fails);

const stream = generateStream({
  dataset: "inc",
  tickets: 60,
  deltas: 1,
  seed: 77,
  start: "2026-06-15T06-00-00",
  intervalMinutes: 60,
});

/** Case i sits between the baseline (06:00) and the delta (07:00). */
function slot(i: number): string {
  return `2026-06-15T06-${String(10 + Math.floor(i / 60)).padStart(2, "0")}-${
    String(i % 60).padStart(2, "0")
  }.csv`;
}

/** A folder bucket with the stream and every case between its baseline and its delta. */
async function corpusBucket(): Promise<{ root: string; keys: string[] }> {
  const root = await makeDirBucket(stream.files);
  const keys = streamCases.map((c, i) => c.key ?? CHANGES + slot(i));
  for (const [i, c] of streamCases.entries()) {
    const path = `${root}/${keys[i]}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(
      path,
      typeof c.body === "string" ? new TextEncoder().encode(c.body) : c.body,
    );
  }
  return { root, keys };
}

/** What a report says of each file, without timings. */
function outcome(report: DrainReport) {
  return report.files.map(({ key, status, counts, error, quarantine }) => ({
    key,
    status,
    counts,
    error,
    quarantine,
  }));
}

for (const b of backends()) {
  Deno.test({
    name:
      `[${b.name}] the database's CSV parser and the JavaScript parser give the same rows, quarantine and counts on the corpus`,
    ...shared,
    fn: async () => {
      const db = await b.db();
      const runs = [];
      for (const parser of ["javascript", "auto"] as const) {
        await b.reset();
        const { root } = await corpusBucket();
        const report = await drain(createDirObjectStore(root), db, {
          dataset: INC,
          apply: true,
          parser,
        });
        runs.push({ report, state: await drainedState(db) });
        await Deno.remove(root, { recursive: true });
      }
      const [js, auto] = runs as [(typeof runs)[0], (typeof runs)[0]];
      assert.deepEqual(outcome(auto.report), outcome(js.report));
      assert.deepEqual(auto.report.totals, js.report.totals);
      assert.deepEqual(auto.state, js.state);
      const by = (r: DrainReport, who: string) =>
        r.files.filter((f) => f.profile?.parsedBy === who).length;
      assert.equal(by(js.report, "database"), 0);
      assert.ok(by(auto.report, "database") >= 2, "plain files were parsed by the database");
      assert.ok(by(auto.report, "javascript") >= 10, "bad files went to the JavaScript parser");
    },
  });

  Deno.test({
    name:
      `[${b.name}] drain() loads every good row around ${streamCases.length} files with bad lines`,
    ...shared,
    fn: async (t) => {
      assert.ok(cases.length >= 30, "the corpus has at least 30 files");
      await b.reset();
      const db = await b.db();
      const { root, keys } = await corpusBucket();

      const report = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
      assert.equal(report.status, "ok", report.error);
      assert.equal(report.files.at(-1)?.fileName, stream.files.at(-1)?.name, "the delta ran");
      assert.equal(report.files.at(-1)?.status, "applied");

      for (const [i, c] of streamCases.entries()) {
        await t.step(c.name, async () => {
          const key = keys[i]!;
          const fileName = key.slice(CHANGES.length);
          const file = report.files.find((f) => f.key === key);
          const quarantine = await db.query<{ line: number; reason: string }>(
            `select line, reason from tickets.quarantine where key = $1 order by line limit 20`,
            [key],
          );
          if (c.ignored) {
            assert.equal(file, undefined);
            assert.ok(report.ignoredKeys.includes(key));
            await Deno.stat(`${root}/${key}`); // still where it was
            return;
          }
          assert.ok(file, `"${key}" is in the report`);
          assert.equal(file.status, "applied", file.error);
          const want = c.quarantined ?? [];
          assert.equal(file.counts?.quarantined, c.quarantinedCount ?? want.length);
          if (c.quarantinedCount === undefined) {
            assert.deepEqual(quarantine.map((q) => q.line), want.map(([n]) => n));
            for (const [j, [, reason]] of want.entries()) {
              assert.match(quarantine[j]!.reason, reason);
            }
          }
          assert.ok((await listNames(root, INC.processedPrefix)).includes(fileName));
          // Before: a file's letters lost to U+FFFD went unsaid (only the rows showed them).
          assert.deepEqual(file.notUtf8, c.notUtf8);
          await c.check?.(db, report, file);
        });
      }

      await t.step("every good row of every file landed, and nothing else did", async () => {
        const expected = new Map(stream.expected);
        for (const c of streamCases) for (const r of c.lands ?? []) expected.set(r.ticket_id!, r);
        const extra = await db.query<{ ticket_id: string }>(
          `select ticket_id from tickets.inc where ticket_id like 'BAD\\_UTF8\\_%'`,
        );
        for (const { ticket_id } of extra) {
          const raw = (await db.query<{ raw: Expected }>(
            `select raw from tickets.inc where ticket_id = $1`,
            [ticket_id],
          ))[0]!.raw;
          expected.set(ticket_id, raw); // checked by its own case
        }
        assert.deepEqual(await diffState(db, expected), []);
        const lookAlikes = streamCases.flatMap((c) =>
          c.ignored ? [c.key!.slice(CHANGES.length)] : []
        );
        assert.deepEqual(
          await listNames(root, CHANGES),
          lookAlikes.filter((name) => !name.includes("/")).sort(),
          "only the keys that are not change files are left in changes/",
        );
      });
    },
  });

  Deno.test({
    name:
      `[${b.name}] drain() stops at each of ${unreadable.length} unreadable files without losing anything`,
    ...shared,
    fn: async (t) => {
      const db = await b.db();
      for (const c of unreadable) {
        await t.step(c.name, async () => {
          await b.reset();
          const name = slot(0);
          const key = CHANGES + name;
          const root = await makeDirBucket(stream.files);
          await Deno.writeFile(
            `${root}/${key}`,
            typeof c.body === "string" ? new TextEncoder().encode(c.body) : c.body,
          );
          const store = createDirObjectStore(root);
          const report = await drain(store, db, { dataset: INC, apply: true });
          assert.equal(report.status, "failed");
          assert.equal(report.transient, false, "a person must look at it");
          const [lineNo, reason] = c.fails!;
          assert.ok(report.error?.startsWith(`Cannot apply change file "${key}": line ${lineNo} `));
          assert.match(report.error!, reason);
          assert.deepEqual(report.files.map((f) => f.status), ["applied", "failed", "not_reached"]);
          assert.deepEqual(await listNames(root, CHANGES), [name, stream.files[1]!.name]);

          // The operator removes (or fixes) it: the next run goes on and nothing was lost.
          await Deno.remove(`${root}/${key}`);
          const next = await drain(store, db, { dataset: INC, apply: true });
          assert.equal(next.status, "ok", next.error);
          assert.deepEqual(await diffState(db, stream.expected), []);
        });
      }
    },
  });

  Deno.test({ name: `[${b.name}] close the shared database`, ...shared, fn: () => b.close() });
}

Deno.test({
  name:
    "[postgres] both ways land the same rows on databases that case letters otherwise: a Turkish locale, SQL_ASCII",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  ...shared,
  fn: async (t) => {
    const base = Deno.env.get("TEST_DATABASE_URL")!;
    // An ASCII row (the database's way) and one beyond ASCII (JavaScript's), in files of their own.
    const ascii = ticket("BAD_LOCALE_1", { region: "NAIROBI", raw_status: "in progress" });
    const beyond = ticket("BAD_LOCALE_2", { region: "ÉLDORET", raw_status: "straße" });
    const files = [
      { name: "2026-06-15T06-00-00.csv", text: renderCsv(COLUMNS, [ascii]) },
      { name: "2026-06-15T06-20-00.csv", text: renderCsv(COLUMNS, [beyond]) },
    ];
    const databases = {
      // Before: NAIROBI became "naırobı" and "in progress" "İN PROGRESS" on the database's way.
      "tr-TR": "template template0 locale_provider icu icu_locale 'tr-TR' locale 'C.UTF-8'",
      // Before: every byte is a character there, so the length test let "ÉLDORET" through to the
      // database's way, which left É and ß alone ("Éldoret", "STRAßE").
      "SQL_ASCII": "template template0 encoding 'SQL_ASCII' lc_collate 'C' lc_ctype 'C'",
    };
    for (const [label, options] of Object.entries(databases)) {
      await t.step(label, async () => {
        const states = [];
        for (const parser of ["javascript", "auto"] as const) {
          const db = createPostgresDatabase(await createScratchDatabase(base, options));
          try {
            await migrate(db);
            const root = await makeDirBucket(files);
            const report = await drain(createDirObjectStore(root), db, {
              dataset: INC,
              apply: true,
              parser,
            });
            assert.equal(report.status, "ok", report.error);
            const ways = report.files.map((f) => f.profile?.parsedBy);
            assert.deepEqual(
              ways,
              parser === "auto" ? ["database", "javascript"] : ["javascript", "javascript"],
            );
            const rows = await db.query<{ raw: Record<string, string> }>(
              `select raw from tickets.inc order by ticket_id`,
            );
            assert.deepEqual(rows.map((r) => [r.raw.region, r.raw.raw_status]), [
              ["nairobi", "IN PROGRESS"],
              ["éldoret", "STRASSE"],
            ]);
            states.push(await drainedState(db));
            await Deno.remove(root, { recursive: true });
          } finally {
            await db.close();
          }
        }
        assert.deepEqual(states[1], states[0]);
      });
    }
  },
});

removeTestDataAtEnd();
