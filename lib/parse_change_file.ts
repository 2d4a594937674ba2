/**
 * Streaming parse and cleaning of one change file (the extract + normalize steps).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { parse } from "csv-parse/stream";
import { ChangeFileError } from "./change_file_error.ts";

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
const TRUE_WORDS = new Set(["true", "t", "1", "yes", "y"]);

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
}

/**
 * Parses a change file as real CSV (quotes, embedded commas and newlines, CRLF, BOM) and
 * yields each data line cleaned: alarm rows and the `EXPORT STOPPED` sentinel flagged for
 * dropping, rows that cannot be tickets flagged for quarantine, tickets as cleaned records.
 * Columns are found by header name. Throws {@linkcode ChangeFileError} for a broken file.
 */
export async function* parseChangeFile(
  body: ReadableStream<Uint8Array>,
  options: ParseChangeFileOptions,
): AsyncGenerator<ChangeLine> {
  const { key } = options;
  const records = body
    .pipeThrough(
      new TransformStream<Uint8Array, Buffer>({
        transform(chunk, controller) {
          controller.enqueue(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        },
      }),
    )
    .pipeThrough(
      parse({
        bom: true,
        info: true,
        relax_column_count: true,
        relax_quotes: true,
        skip_empty_lines: true,
      }) as TransformStream<Buffer, { record: string[]; info: { lines: number } }>,
    );

  let header: string[] | undefined;
  let idIndex = -1;
  let alarmIndex = -1;
  let regionIndex = -1;
  let statusIndex = -1;
  try {
    for await (const { record, info } of records) {
      const line = info.lines;
      if (header === undefined) {
        header = record.map((name) => name.replaceAll("\0", "").trim().toLowerCase());
        idIndex = header.indexOf("ticket_id");
        if (idIndex < 0) {
          throw new ChangeFileError(key, `has no "ticket_id" column in its header`, { line });
        }
        const seen = new Set<string>();
        for (const name of header) {
          if (name === "") {
            throw new ChangeFileError(key, "has an empty column name in its header", { line });
          }
          if (seen.has(name)) {
            throw new ChangeFileError(key, `repeats column "${name}" in its header`, { line });
          }
          seen.add(name);
        }
        alarmIndex = header.indexOf("is_alarm");
        regionIndex = header.indexOf("region");
        statusIndex = header.indexOf("raw_status");
        continue;
      }
      const id = (record[idIndex] ?? record[0] ?? "").trim();
      if (id.toUpperCase().startsWith(SENTINEL_PREFIX)) {
        yield { kind: "sentinel", line };
        continue;
      }
      if (record.length !== header.length) {
        yield {
          kind: "quarantine",
          line,
          reason: `has ${record.length} fields, header has ${header.length}`,
          fields: record,
        };
        continue;
      }
      if (id === "") {
        yield { kind: "quarantine", line, reason: "has an empty ticket_id", fields: record };
        continue;
      }
      if (alarmIndex >= 0 && isTrue(record[alarmIndex])) {
        yield { kind: "alarm", line };
        continue;
      }
      const cleaned: TicketRecord = {};
      for (let i = 0; i < header.length; i++) {
        const name = header[i]!;
        if (DROPPED_COLUMNS.has(name)) continue;
        let value: string | null = record[i]!;
        if (value === "") value = null;
        // PostgreSQL text cannot hold NUL; keep the damage visible instead of failing.
        else if (value.includes("\0")) value = value.replaceAll("\0", "\uFFFD");
        if (value !== null) {
          if (i === regionIndex) value = value.toLowerCase();
          else if (i === statusIndex) value = value.toUpperCase();
        }
        cleaned[name] = value;
      }
      cleaned.ticket_id = id.replaceAll("\0", "\uFFFD");
      yield { kind: "ticket", line, ticketId: cleaned.ticket_id, record: cleaned };
    }
  } catch (error) {
    if (error instanceof ChangeFileError) throw error;
    const csv = error as { code?: string; lines?: number; message?: string };
    if (typeof csv.code === "string" && csv.code.startsWith("CSV_")) {
      throw new ChangeFileError(key, describeCsvError(csv.code, csv.message ?? ""), {
        line: csv.lines,
        cause: error,
      });
    }
    throw error;
  }
  if (header === undefined) {
    throw new ChangeFileError(key, "is empty: it has no header row");
  }
}

function describeCsvError(code: string, message: string): string {
  switch (code) {
    case "CSV_QUOTE_NOT_CLOSED":
      return "has an unterminated quote";
    case "CSV_INVALID_CLOSING_QUOTE":
    case "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE":
    case "INVALID_OPENING_QUOTE":
      return "has a malformed quoted field";
    default:
      return `is not valid CSV (${message.replace(/\.$/, "")})`;
  }
}
