/**
 * Streaming parse and cleaning of one change file (the extract + normalize steps).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { parse } from "csv-parse/stream";
import { parse as parseText } from "csv-parse/sync";
import { ChangeFileError } from "./change_file_error.ts";
import { utf16Encoding } from "./utf16_encoding.ts";
import {
  type Utf8ReplacementCounter,
  type Utf8Replacements,
  utf8Replacements,
} from "./utf8_replacements.ts";

/** The export's 32 columns (the spec's), in its order. */
export const EXPORT_COLUMNS: readonly string[] = [
  "ticket_id",
  "service_type",
  "raw_status",
  "normalized_status",
  "bucket",
  "is_actionable",
  "is_alarm",
  "is_auto_created",
  "is_auto_closed",
  "cluster",
  "region",
  "location_name",
  "assigned_team",
  "owner",
  "sla_status",
  "mttr",
  "created_at_service",
  "scheduled_at",
  "closed_at",
  "first_seen_at",
  "last_seen_at",
  "created_at",
  "updated_at",
  "latitude",
  "longitude",
  "week_start",
  "week_end",
  "department",
  "source_type",
  "source_s3_bucket",
  "source_s3_key",
  "source_snapshot_id",
];

/**
 * The export's columns a ticket's record keeps that a file's header (its names, lowercased) lacks:
 * the merge keeps their stored values instead of emptying them (a file without a column says
 * nothing about it).
 */
export function missingColumns(names: readonly string[]): string[] {
  return EXPORT_COLUMNS.filter((c) => !DROPPED_COLUMNS.has(c) && !names.includes(c));
}

/** Columns dropped at ingest (export bookkeeping with no value downstream). */
export const DROPPED_COLUMNS: ReadonlySet<string> = new Set([
  "week_start",
  "week_end",
  "source_s3_bucket",
  "source_s3_key",
  "source_snapshot_id",
  "department",
  "source_type",
]);

const SENTINEL_PREFIX = "EXPORT STOPPED";

/**
 * Longest `ticket_id` accepted, in characters. Real ids are ~10 (`WOT0715527`); PostgreSQL's
 * primary-key index refuses an entry over ~2,700 bytes, which would fail the whole file on every
 * rerun. A longer id is quarantined with the reason.
 */
export const MAX_TICKET_ID_LENGTH = 200;

/**
 * Largest field accepted, in characters (real fields are under 1 KB). The embedded database
 * runs out of memory on a ~50 MB field; a larger field is quarantined with the reason.
 */
export const MAX_FIELD_LENGTH = 4 * 1024 * 1024;

/** Largest row accepted (all its fields together), in characters. */
export const MAX_ROW_LENGTH = 8 * 1024 * 1024;

/** Quarantined fields are kept cut to this many characters (the reason says what was wrong). */
const QUARANTINE_FIELD_LENGTH = 2000;

/** C0 controls and DEL: no ticket id holds them (a NUL cannot even be stored). */
// deno-lint-ignore no-control-regex
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const encoder = new TextEncoder();
const TRUE_WORDS = new Set(["true", "t", "1", "yes", "y"]);
// Strict quotes: a stray quote fails at once, so `recover` loses one line instead of letting it
// pair with the next line's quote and swallow a good row into a garbled record.
// Every line ending everywhere (not only the first line's kind): mixed files parse, and
// `recordStart` can mirror the parser's idea of where a record ends.
const CSV_OPTIONS = {
  bom: true,
  info: true,
  relax_column_count: true,
  skip_empty_lines: true,
  record_delimiter: ["\r\n", "\n", "\r"],
};

/** A cleaned ticket record: column name to text, empty values as null. */
export type TicketRecord = Record<string, string | null>;

/** What one data line of a change file turned out to be. */
export type ChangeLine =
  | { kind: "ticket"; line: number; ticketId: string; record: TicketRecord }
  | { kind: "alarm"; line: number }
  | { kind: "sentinel"; line: number }
  | { kind: "quarantine"; line: number; reason: string; fields: string[] };

/** Reads a feed boolean the way `tickets.bool()` does (true, t, 1, yes, y; any case). */
export function isTrue(value: string | null | undefined): boolean {
  return value != null && TRUE_WORDS.has(value.trim().toLowerCase());
}

/** Options for {@linkcode parseChangeFile}. */
export interface ParseChangeFileOptions {
  /** Object key, for error messages. */
  key: string;
  /**
   * Reads the file again from its start. Given, a line with an unterminated quote is
   * quarantined alone and the lines after it still load; without it they are quarantined too.
   */
  reread?: () => Promise<ReadableStream<Uint8Array>>;
  /**
   * Told, once the file is read whole, how many of its characters were not UTF-8 (each loaded as
   * U+FFFD) and the line of the first; not called when there were none.
   */
  onNotUtf8?: (found: Utf8Replacements) => void;
}

/**
 * Parses a change file as real CSV (quotes, embedded commas and newlines, CRLF, BOM) and
 * yields each data line cleaned: alarm rows and the `EXPORT STOPPED` sentinel flagged for
 * dropping, rows that cannot be tickets flagged for quarantine, tickets as cleaned records.
 * Columns are found by header name. Throws {@linkcode ChangeFileError} when the file has no
 * usable header (nothing in it can be read as a ticket).
 *
 * @example Usage
 * ```ts
 * import { type ChangeLine, parseChangeFile } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const csv = [
 *   "ticket_id,raw_status,region,is_alarm,week_start",
 *   "WOT0000001,In Progress,NAIROBI,false,2026-06-08",
 *   "WOT0000002,Open,Mombasa,true,2026-06-08",
 *   "WOT0000003,Open",
 *   "",
 * ].join("\r\n");
 * const body = ReadableStream.from([new TextEncoder().encode(csv)]);
 * const key = "automations/inc/changes/2026-06-15T17-00-00.csv";
 *
 * const lines: ChangeLine[] = [];
 * for await (const line of parseChangeFile(body, { key })) lines.push(line);
 * assert.deepEqual(lines, [
 *   {
 *     kind: "ticket",
 *     line: 2,
 *     ticketId: "WOT0000001",
 *     record: {
 *       ticket_id: "WOT0000001",
 *       raw_status: "IN PROGRESS",
 *       region: "nairobi",
 *       is_alarm: "false",
 *     },
 *   },
 *   { kind: "alarm", line: 3 },
 *   {
 *     kind: "quarantine",
 *     line: 4,
 *     reason: "has 2 fields, header has 5",
 *     fields: ["WOT0000003", "Open"],
 *   },
 * ]);
 * ```
 */
export async function* parseChangeFile(
  body: ReadableStream<Uint8Array>,
  options: ParseChangeFileOptions,
): AsyncGenerator<ChangeLine> {
  const { key } = options;
  const utf8 = utf8Replacements();
  const records = csvRecords(await asUtf8(body), utf8);
  const tell = (counter: Utf8ReplacementCounter) => {
    const found = counter.found();
    if (found !== undefined) options.onNotUtf8?.(found);
  };

  let header: Header | undefined;
  let seen = 0;
  let lastLine = 0;
  try {
    for await (const { record, info } of records) {
      seen++;
      lastLine = info.lines;
      if (header === undefined) header = readHeader(key, record, info.lines);
      else yield cleanRecord(header, record, info.lines);
    }
  } catch (error) {
    const csv = csvError(error);
    if (csv === undefined) throw error;
    const reason = describeCsvError(csv.code, csv.message);
    if (header === undefined) {
      throw new ChangeFileError(key, reason, { line: csv.lines, cause: error });
    }
    if (options.reread === undefined) {
      yield {
        kind: "quarantine",
        line: lastLine + 1,
        reason: storable(`${reason}: this line and the rest of the file could not be read`),
        fields: [],
      };
      return;
    }
    const again = utf8Replacements();
    const bytes = new Uint8Array(
      await new Response(await asUtf8(await options.reread())).arrayBuffer(),
    );
    again.count(bytes);
    again.end();
    yield* recover(key, header, new TextDecoder().decode(bytes), seen);
    tell(again);
    return;
  }
  if (header === undefined) {
    throw new ChangeFileError(key, "has no header row: the file is empty", { line: 1 });
  }
  tell(utf8);
}

/** A change file's header: lowercased column names and where the columns that matter are. */
export interface Header {
  /** Column names, trimmed and lowercased. */
  names: string[];
  /** Index of `ticket_id`. */
  id: number;
  /** Index of `is_alarm`, or -1. */
  alarm: number;
  /** Index of `region`, or -1. */
  region: number;
  /** Index of `raw_status`, or -1. */
  status: number;
}

/**
 * Reads a header line given as bytes (the COPY path reads the header alone); throws the
 * {@linkcode ChangeFileError} that {@linkcode parseChangeFile} would for an unusable header.
 */
export function parseHeaderLine(key: string, bytes: Uint8Array): Header {
  // Without a quote or a line end, csv-parse would split on commas: so does this, without
  // csv-parse's first-call cost (~12 ms, paid by the first file of every run).
  if (!bytes.includes(0x22) && !bytes.includes(0x0a) && !bytes.includes(0x0d)) {
    return readHeader(key, new TextDecoder().decode(bytes).split(","), 1);
  }
  const records = parseText(Buffer.from(bytes), { bom: true, relax_column_count: true });
  return readHeader(key, (records[0] ?? []) as string[], 1);
}

/**
 * Why a header that names no `ticket_id` column may still hold one: its fields separated by
 * another character than a comma (a spreadsheet's `;`, a tab), said with how to fix it.
 */
function otherSeparator(names: string[]): string {
  for (const [separator, word] of [[";", '";"'], ["\t", "tabs"], ["|", '"|"']] as const) {
    if (names.some((name) => name.split(separator).map((n) => n.trim()).includes("ticket_id"))) {
      return ` (its fields are separated by ${word}, not commas: export it as comma-separated CSV)`;
    }
  }
  return "";
}

/**
 * Why a header is no header at all: the bytes of a gzip or zip file, said with how to fix it
 * (before: only that it named no "ticket_id"; an S3 tester's `.csv` that was gzip inside).
 */
function compressed(first: string): string | undefined {
  const kind = first.startsWith("\x1f\ufffd") || first.startsWith("\x1f\x8b")
    ? "gzip"
    : first.startsWith("PK\x03\x04")
    ? "zip"
    : undefined;
  return kind === undefined
    ? undefined
    : ` (the file is ${kind}-compressed: put the CSV itself in the bucket, uncompressed)`;
}

function readHeader(key: string, record: string[], line: number): Header {
  const names = record.map((name) => name.replaceAll("\0", "").trim().toLowerCase());
  const id = names.indexOf("ticket_id");
  if (id < 0) {
    const reason = `has no "ticket_id" column in its header${
      compressed(record[0] ?? "") ?? otherSeparator(names)
    }`;
    throw new ChangeFileError(key, reason, { line });
  }
  const seen = new Set<string>();
  for (const name of names) {
    if (name === "") {
      throw new ChangeFileError(key, "has an empty column name in its header", { line });
    }
    if (seen.has(name)) {
      throw new ChangeFileError(key, `repeats column "${name}" in its header`, { line });
    }
    seen.add(name);
  }
  return {
    names,
    id,
    alarm: names.indexOf("is_alarm"),
    region: names.indexOf("region"),
    status: names.indexOf("raw_status"),
  };
}

function cleanRecord(header: Header, record: string[], line: number): ChangeLine {
  const { names } = header;
  const id = (record[header.id] ?? record[0] ?? "").trim();
  if (id.toUpperCase().startsWith(SENTINEL_PREFIX)) return { kind: "sentinel", line };
  const quarantine = (reason: string): ChangeLine => ({
    kind: "quarantine",
    line,
    reason,
    fields: record.map(storable),
  });
  if (record.length !== names.length) {
    return quarantine(
      `has ${record.length} field${record.length === 1 ? "" : "s"}, header has ${names.length}`,
    );
  }
  if (id === "") return quarantine("has an empty ticket_id");
  if (id.toLowerCase() === names[header.id]) {
    return quarantine("repeats the header line (two exports joined into one file?)");
  }
  if (header.alarm >= 0 && isTrue(record[header.alarm])) return { kind: "alarm", line };
  const unfit = unfitTicket(names, record, id);
  if (unfit !== undefined) return quarantine(unfit);
  const cleaned: TicketRecord = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (DROPPED_COLUMNS.has(name)) continue;
    let value: string | null = record[i]!;
    if (value === "") value = null;
    // PostgreSQL text cannot hold NUL; keep the damage visible instead of failing.
    else if (value.includes("\0")) value = value.replaceAll("\0", "\uFFFD");
    if (value !== null) {
      if (i === header.region) value = value.toLowerCase();
      else if (i === header.status) value = value.toUpperCase();
    }
    cleaned[name] = value;
  }
  cleaned.ticket_id = id;
  return { kind: "ticket", line, ticketId: id, record: cleaned };
}

/** Why a row with a usable shape still cannot be a ticket (id or size out of bounds), if so. */
function unfitTicket(names: string[], record: string[], id: string): string | undefined {
  if (id.length > MAX_TICKET_ID_LENGTH) {
    return `has a ticket_id of ${id.length} characters (at most ${MAX_TICKET_ID_LENGTH})`;
  }
  if (CONTROL_CHARACTERS.test(id)) return "has control characters in its ticket_id";
  let total = 0;
  for (const [i, value] of record.entries()) {
    total += value.length;
    if (value.length > MAX_FIELD_LENGTH) {
      return `has a field of ${value.length} characters in column "${
        names[i]
      }" (at most ${MAX_FIELD_LENGTH})`;
    }
  }
  if (total > MAX_ROW_LENGTH) {
    return `has a row of ${total} characters (at most ${MAX_ROW_LENGTH})`;
  }
  return undefined;
}

/**
 * Text that PostgreSQL can store in quarantine: NUL becomes U+FFFD (as in loaded rows; a NUL
 * would fail the whole file), and a huge field is cut (it is there for a person to look at).
 */
function storable(text: string): string {
  const cut = text.length > QUARANTINE_FIELD_LENGTH
    ? `${text.slice(0, QUARANTINE_FIELD_LENGTH)}… (${text.length} characters, cut)`
    : text;
  return cut.replaceAll("\0", "\uFFFD");
}

/**
 * The body as UTF-8. A UTF-16 file (with a byte-order mark, or without one: NUL bytes between
 * the header's characters) is decoded; reading it as UTF-8 made every other byte a NUL.
 */
async function asUtf8(body: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  const first = await reader.read();
  const whole = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) controller.close();
      else controller.enqueue(first.value);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  const encoding = first.done ? undefined : utf16Encoding(first.value);
  if (encoding === undefined) return whole;
  return whole.pipeThrough(new TextDecoderStream(encoding)).pipeThrough(new TextEncoderStream());
}

/** Broken lines recovered per file before it counts as unreadable (recovery re-parses). */
const MAX_BROKEN_LINES = 100;

/**
 * Goes on after a record that broke the CSV (a stray or unterminated quote): the line where
 * that record starts is quarantined and parsing restarts on the next line, as often as needed.
 * `skip` records were already yielded. Runs on the whole text, on the rare broken file only.
 */
async function* recover(
  key: string,
  header: Header,
  text: string,
  skip: number,
): AsyncGenerator<ChangeLine> {
  const lines = new LineCounter(text);
  let offset = 0; // where the text still to parse starts
  for (let broken = 0;; broken++) {
    const segment = text.slice(offset);
    // Count the records before the break (dropping them: a big file is not held as records),
    // then stream exactly that prefix. A stream parser would drop records queued before its
    // error, so it cannot do the counting itself.
    const { records, failure } = countBeforeBreak(segment);
    const start = failure === undefined ? segment.length : recordStart(segment, records);
    const firstLine = lines.at(offset);
    skip = yield* cleanPrefix(key, header, segment.slice(0, start), firstLine, skip);
    if (failure === undefined || offset + start >= text.length) return;
    const at = offset + start;
    const end = lineEnd(text, at);
    const line = lines.at(at);
    if (broken >= MAX_BROKEN_LINES) {
      throw new ChangeFileError(
        key,
        // Before: "line 103 has more than 100 lines with broken quotes", as if the line did.
        `is the file's ${MAX_BROKEN_LINES + 1}st line with broken quotes (at most ` +
          `${MAX_BROKEN_LINES} are set aside in a file); the file was not loaded`,
        { line },
      );
    }
    yield {
      kind: "quarantine",
      line,
      reason: describeCsvError(failure.code, failure.message),
      fields: [storable(text.slice(at, end))],
    };
    offset = text.startsWith("\r\n", end) ? end + 2 : end + 1;
    if (offset >= text.length) return;
  }
}

/** How many records `segment` holds before its first break, and the break (none: it is whole). */
function countBeforeBreak(segment: string): { records: number; failure?: CsvError } {
  let records = 0;
  try {
    parseText(segment, {
      ...CSV_OPTIONS,
      info: false,
      on_record: () => {
        records++;
        return null;
      },
    });
  } catch (error) {
    const failure = csvError(error);
    if (failure === undefined) throw error;
    return { records, failure };
  }
  return { records };
}

/**
 * Streams the records of `prefix` (which parses without error, starting on line `firstLine`),
 * cleaned, after the first `skip` (already yielded); returns how many of those are left to skip.
 */
async function* cleanPrefix(
  key: string,
  header: Header,
  prefix: string,
  firstLine: number,
  skip: number,
): AsyncGenerator<ChangeLine, number> {
  try {
    for await (const { record, info } of csvRecords(ReadableStream.from(utf8Chunks(prefix)))) {
      if (skip > 0) skip--;
      else yield cleanRecord(header, record, firstLine - 1 + info.lines);
    }
  } catch (error) {
    const csv = csvError(error);
    if (csv === undefined) throw error;
    throw new ChangeFileError(key, describeCsvError(csv.code, csv.message), {
      line: firstLine,
      cause: error,
    });
  }
  return skip;
}

/**
 * Where record `n` (0-based, blank lines not counted) starts in `text`: a scan with CSV's quote
 * rules, trusted only over records the strict parser already read without error.
 */
function recordStart(text: string, n: number): number {
  let record = 0;
  let i = 0;
  while (i < text.length && record < n) {
    if (text[i] === "\n" || text[i] === "\r") { // a blank line is not a record
      i += text.startsWith("\r\n", i) ? 2 : 1;
      continue;
    }
    let quoted = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') i++;
          else quoted = false;
        }
      } else if (c === '"') quoted = true;
      else if (c === "\n" || c === "\r") break;
    }
    i += text.startsWith("\r\n", i) ? 2 : 1;
    record++;
  }
  while (i < text.length && (text[i] === "\n" || text[i] === "\r")) i++;
  return Math.min(i, text.length);
}

/** `text` as UTF-8 chunks of about 1 MB, never splitting a surrogate pair. */
function* utf8Chunks(text: string): Generator<Uint8Array> {
  for (let i = 0; i < text.length;) {
    let end = Math.min(i + (1 << 20), text.length);
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff && end < text.length) end++;
    yield encoder.encode(text.slice(i, end));
    i = end;
  }
}

/** Index of the line break (CR or LF) ending the line that holds `from`, or the text's end. */
function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (text[i] === "\n" || text[i] === "\r") return i;
  return text.length;
}

/** 1-based physical line numbers (CRLF, LF or a lone CR end a line), for forward queries. */
class LineCounter {
  #text: string;
  #at = 0;
  #line = 1;

  constructor(text: string) {
    this.#text = text;
  }

  /** The line holding offset `to`; offsets must not go backwards. */
  at(to: number): number {
    const text = this.#text;
    for (let i = this.#at; i < to; i++) {
      if (text[i] === "\n" || (text[i] === "\r" && text[i + 1] !== "\n")) this.#line++;
    }
    this.#at = Math.max(this.#at, to);
    return this.#line;
  }
}

/** The CSV records of a byte stream, each with the line it ends on; `utf8` counts its bytes. */
function csvRecords(
  body: ReadableStream<Uint8Array>,
  utf8?: Utf8ReplacementCounter,
): ReadableStream<ParsedRecord> {
  return body
    .pipeThrough(
      new TransformStream<Uint8Array, Buffer>({
        transform(chunk, controller) {
          utf8?.count(chunk);
          controller.enqueue(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        },
        flush() {
          utf8?.end();
        },
      }),
    )
    .pipeThrough(parse(CSV_OPTIONS) as TransformStream<Buffer, ParsedRecord>);
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
}

interface CsvError {
  code: string;
  message: string;
  lines?: number;
  raw?: string;
}

function csvError(error: unknown): CsvError | undefined {
  const csv = error as Partial<CsvError> | null;
  // csv-parse names one code without its prefix.
  const code = csv?.code;
  if (typeof code !== "string" || !/^(CSV_|INVALID_OPENING_QUOTE$)/.test(code)) return undefined;
  return { ...csv, code, message: csv?.message ?? "" };
}

function describeCsvError(code: string, message: string): string {
  switch (code) {
    case "CSV_QUOTE_NOT_CLOSED":
      return "has an unterminated quote";
    case "CSV_INVALID_CLOSING_QUOTE":
    case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE":
    case "INVALID_OPENING_QUOTE":
      return "has an unterminated or stray quote";
    default:
      return `is not valid CSV (${message.replace(/\.$/, "")})`;
  }
}
