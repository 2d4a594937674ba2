// The fast way to stage a change file: the database parses the CSV itself (COPY … FORMAT csv)
// and the cleaning runs in SQL. Taken only for a plain file (see _csv_shape.ts) whose every row
// is a well-formed ticket, an alarm or the sentinel; for anything else the caller rolls back to
// the savepoint taken here and stages the file with the JavaScript parser, which quarantines
// what it must. Both ways give the same rows and counts (tests/bad_input_test.ts proves it on
// the corpus and tests/drain_replay_test.ts on the fixture stream). Private to core/.

import { CsvShape } from "./_csv_shape.ts";
import { DROPPED_COLUMNS, type Header, parseHeaderLine } from "./parse_change_file.ts";
import type { SqlSession } from "./ports/mod.ts";

/** What the COPY way staged. */
export interface CopyStaged {
  /** Data records in the file. */
  rowsRead: number;
  /** Rows copied into the stage. */
  rows: number;
  /** Alarm rows dropped. */
  alarmsDropped: number;
  /** Sentinel rows dropped. */
  sentinelsDropped: number;
}

/** A ticket id the COPY way accepts as is; any other id sends the file to the JavaScript way. */
const PLAIN_ID = "^[A-Za-z0-9_-]{1,32}$";
/** The feed's boolean words (`tickets.bool()`), for is_alarm. */
const BOOLEAN_WORD = "^(true|false|t|f|1|0|yes|no|y|n)?$";
/** Printable ASCII: lower()/upper() in SQL and in JavaScript agree on it. */
const ASCII = "^[ -~]*$";

const SAVEPOINT = "fleettickets_copy";

/** Options for {@linkcode stageByCopy}. */
export interface CopyOptions {
  /** A field over this many bytes sends the file to the JavaScript way. */
  maxFieldBytes: number;
  /** The size the listing gave: a body that ends short of it fails the file. */
  expectedBytes: number;
  /** The error for a body that ended after `bytes` bytes (a truncated download). */
  truncated: (bytes: number) => Error;
  /** Stops between chunks. */
  signal?: AbortSignal;
}

/** Reading the object failed (or ended short): the file fails as the JavaScript way would. */
class ReadFailure extends Error {}

/** The bytes are not plain CSV: the COPY is abandoned before the server reads the rest. */
class NotPlain extends Error {}

/**
 * Stages `body` (the whole file, header first) into `fleettickets_stage` with COPY. Returns
 * undefined, with the session rolled back to where it was, when the file must take the
 * JavaScript way; throws when the session itself failed (a lost connection, an abort).
 */
export async function stageByCopy(
  tx: SqlSession,
  key: string,
  body: ReadableStream<Uint8Array>,
  options: CopyOptions,
): Promise<CopyStaged | undefined> {
  const shape = new CsvShape(options.maxFieldBytes);
  const reader = body.getReader();
  const head = await readHeader(reader, shape);
  const header = head && plainHeader(key, shape.headerBytes!);
  if (head === undefined || header === undefined) {
    await reader.cancel().catch(() => {});
    return undefined;
  }
  await tx.query(`savepoint ${SAVEPOINT}`);
  try {
    const columns = header.names.map((_, i) => `c${i + 1}`);
    await tx.query(`drop table if exists fleettickets_csv`);
    await tx.query(
      `create temp table fleettickets_csv (seq bigint generated always as identity, ${
        columns.map((c) => `${c} text`).join(", ")
      })`,
    );
    await tx.copyCsv("fleettickets_csv", columns, chunks(reader, shape, head, options));
    shape.finish();
    const staged = shape.notPlain === undefined ? await stageRows(tx, header) : undefined;
    if (staged === undefined || staged.rowsRead !== shape.records) {
      await tx.query(`rollback to savepoint ${SAVEPOINT}`);
      return undefined;
    }
    await tx.query(`release savepoint ${SAVEPOINT}`);
    return staged;
  } catch (error) {
    options.signal?.throwIfAborted();
    if (error instanceof ReadFailure) throw error.cause;
    await reader.cancel().catch(() => {});
    // Not plain after all (seen here, or the server refused it): the JavaScript way reads it. If
    // the session itself is gone, rolling back fails too and that error is the one to report.
    await tx.query(`rollback to savepoint ${SAVEPOINT}`).catch(() => {
      throw error;
    });
    return undefined;
  }
}

/** Reads chunks until the header record is complete; the chunks read so far, or undefined. */
async function readHeader(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  shape: CsvShape,
): Promise<Uint8Array[] | undefined> {
  const head: Uint8Array[] = [];
  while (shape.headerBytes === undefined && shape.notPlain === undefined) {
    const { value, done } = await reader.read();
    if (done) return undefined;
    shape.push(value);
    head.push(value);
  }
  return shape.notPlain === undefined ? head : undefined;
}

function plainHeader(key: string, bytes: Uint8Array): Header | undefined {
  // COPY's HEADER skips one line: a header record spanning lines is not plain.
  if (bytes.includes(0x0a) || bytes.includes(0x0d)) return undefined;
  try {
    return parseHeaderLine(key, bytes);
  } catch {
    return undefined; // the JavaScript way reports the unusable header
  }
}

async function* chunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  shape: CsvShape,
  head: Uint8Array[],
  options: CopyOptions,
): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for (const chunk of head) {
    bytes += chunk.byteLength;
    yield chunk;
  }
  for (;;) {
    options.signal?.throwIfAborted();
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      throw new ReadFailure("Cannot read the change file", { cause: error });
    }
    if (next.done) break;
    bytes += next.value.byteLength;
    shape.push(next.value);
    if (shape.notPlain !== undefined) throw new NotPlain(shape.notPlain);
    yield next.value;
  }
  if (bytes !== options.expectedBytes) {
    throw new ReadFailure("The change file ended early", { cause: options.truncated(bytes) });
  }
}

/**
 * Cleans the copied rows into the stage in one statement, as cleanRecord() does: the sentinel
 * and alarms dropped, dropped columns left out, "" as null, region lowercased, raw_status
 * uppercased. Undefined when a row is anything but a plain ticket, an alarm or the sentinel.
 */
async function stageRows(tx: SqlSession, header: Header): Promise<CopyStaged | undefined> {
  const col = (i: number) => `c${i + 1}`;
  const id = col(header.id);
  const kept = header.names.map((name, i) => ({ name, i })).filter(({ name }) =>
    !DROPPED_COLUMNS.has(name)
  );
  const value = (i: number) =>
    i === header.region
      ? `lower(nullif(${col(i)}, ''))`
      : i === header.status
      ? `upper(nullif(${col(i)}, ''))`
      : `nullif(${col(i)}, '')`;
  const alarm = header.alarm < 0 ? "null" : col(header.alarm);
  const ascii = [header.region, header.status].filter((i) => i >= 0)
    .map((i) => `or coalesce(${col(i)}, '') !~ '${ASCII}'`).join(" ");
  const [row] = await tx.query<
    { rows_read: number; sentinels: number; alarms: number; bad: number; staged: number }
  >(
    `with r as (
       select seq, ${id} as id,
              coalesce(upper(btrim(${id}, ' ')) like 'EXPORT STOPPED%'
                       and btrim(${id}, ' ') ~ '${ASCII}', false) as sentinel,
              coalesce(lower(${alarm}) in ('true', 't', '1', 'yes', 'y'), false) as alarm,
              (coalesce(${id}, '') !~ '${PLAIN_ID}' or lower(${id}) = 'ticket_id'
               or coalesce(${alarm}, '') !~* '${BOOLEAN_WORD}' ${ascii}) as bad,
              array[${kept.map(({ i }) => value(i)).join(", ")}] as vals
       from fleettickets_csv
     ), staged as (
       insert into fleettickets_stage (seq, ticket_id, raw)
       select seq, id, jsonb_object($1::text[], vals)
       from r where not sentinel and not bad and not alarm
       returning 1
     )
     select count(*)::int as rows_read,
            count(*) filter (where sentinel)::int as sentinels,
            count(*) filter (where not sentinel and bad)::int as bad,
            count(*) filter (where not sentinel and not bad and alarm)::int as alarms,
            (select count(*) from staged)::int as staged
     from r`,
    [kept.map(({ name }) => name)],
  );
  if (row === undefined || row.bad > 0) return undefined;
  return {
    rowsRead: row.rows_read,
    rows: row.staged,
    alarmsDropped: row.alarms,
    sentinelsDropped: row.sentinels,
  };
}
