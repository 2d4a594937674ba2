// The fast way to stage a change file: the database parses the CSV itself (COPY … FORMAT csv)
// and the cleaning runs in SQL. Taken only for a plain file (see _csv_shape.ts) whose every row
// is a well-formed ticket, an alarm or the sentinel; for anything else the caller rolls back to
// the savepoint taken here and stages the file with the JavaScript parser, which quarantines
// what it must. Both ways give the same rows and counts (tests/bad_input_test.ts proves it on
// the corpus and tests/drain_replay_test.ts on the fixture stream). Private to core/.

import { CsvShape } from "./_csv_shape.ts";
import { DROPPED_COLUMNS, type Header, parseHeaderLine } from "./parse_change_file.ts";
import type { SqlSession } from "./ports/mod.ts";
import { ident } from "./_sql.ts";
import { DATASET_NAMES, serviceTypeSql, type ServiceTypeTally } from "./_rows_dataset.ts";
import type { StageTimes } from "./_stage_times.ts";

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
  /** The stage the merge reads: a subquery over the copied rows (seq, ticket_id, raw). */
  stage: string;
  /** The header's column names (trimmed, lowercased). */
  columns: string[];
  /** How many staged tickets name each dataset in `service_type`. */
  serviceTypes: ServiceTypeTally;
}

// The checks below search for one offending character rather than match a whole value: the
// same answer, 2-4x faster on a baseline.
/** A ticket id the COPY way accepts as is (1-32 of these); any other sends the file to JavaScript. */
const NOT_ID_CHAR = "[^A-Za-z0-9_-]";
/** The feed's boolean words (`tickets.bool()`), for is_alarm; "" is allowed too. */
const BOOLEAN_WORDS = "'', 'true', 'false', 't', 'f', '1', '0', 'yes', 'no', 'y', 'n'";
/** Not printable ASCII (the sentinel's test, and the ASCII test outside UTF-8). */
const NOT_ASCII = "[^ -~]";

const SAVEPOINT = "fleettickets_copy";

/** Columns of the session's copy table: a file with at most this many reuses it, emptied. */
const COPY_COLUMNS = 64;

/** Creates the session's copy table `fleettickets_csv` (seq, c1…cN) unless it exists. */
function createCopyTable(columns: number): string {
  const cs = Array.from({ length: columns }, (_, i) => `c${i + 1} text`).join(", ");
  return `create temp table if not exists fleettickets_csv (
    seq bigint generated always as identity, ${cs})`;
}

/**
 * Creates the copy table for the files of a session (before the first file's transaction, as
 * the drain's warm-up does for its other tables): each file then empties it (~0.5 ms) instead
 * of dropping and creating it with a sequence (~5 ms).
 */
export const CREATE_COPY_TABLE = createCopyTable(COPY_COLUMNS);

/**
 * Makes `fleettickets_csv` empty with at least `columns` text columns: a table as wide or wider
 * is reused; a wider file (rare) gets a table of its own width.
 */
function emptyCopyTable(columns: number): string {
  return columns <= COPY_COLUMNS
    ? `${CREATE_COPY_TABLE}; truncate fleettickets_csv`
    : `drop table if exists fleettickets_csv; ${createCopyTable(columns)}`;
}

/** Options for {@linkcode stageByCopy}. */
export interface CopyOptions {
  /** A field over this many bytes sends the file to the JavaScript way. */
  maxFieldBytes: number;
  /** The size the listing gave: a body that ends short of it fails the file. */
  expectedBytes: number;
  /** The error for a body that ended after `bytes` bytes (a truncated download). */
  truncated: (bytes: number) => Error;
  /** The error for a body whose read failed after `bytes` bytes (a connection that broke). */
  broken: (bytes: number, error: unknown) => Error;
  /** Stops between chunks. */
  signal?: AbortSignal;
  /** Counts the waits for the body as download and the shape check as parse. */
  times: StageTimes;
  /** Told the records and bytes read so far, after each chunk (a terminal's progress bar). */
  progress?: (records: number, bytes: number) => void;
}

/** Reading the object failed (or ended short): the file fails as the JavaScript way would. */
class ReadFailure extends Error {}

/** The bytes are not plain CSV: the COPY is abandoned before the server reads the rest. */
class NotPlain extends Error {}

/**
 * Copies `body` (the whole file, header first) into `fleettickets_csv` and checks it. Returns
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
  const reader = chunkReader(body);
  const head = await readHeader(reader, shape, options.times);
  const header = head && plainHeader(key, shape.headerBytes!);
  if (head === undefined || header === undefined) {
    await reader.cancel().catch(() => {});
    return undefined;
  }
  const columns = header.names.map((_, i) => `c${i + 1}`);
  try {
    // One round trip (no parameters: the column names are c1…cN). A table wider than the file
    // is fine: COPY fills the columns it names, the others stay null and are never read.
    await tx.exec(`savepoint ${SAVEPOINT}; ${emptyCopyTable(columns.length)}`);
    await tx.copyCsv("fleettickets_csv", columns, chunks(reader, shape, head, options));
    shape.finish();
    const staged = shape.notPlain === undefined ? await checkRows(tx, header) : undefined;
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

/** Bytes read into one buffer at a time, when the body lets us bring our own. */
const CHUNK_BYTES = 1 << 20;

/** Reads a body: a chunk is valid until the next read. */
interface ChunkReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(): Promise<void>;
}

/**
 * Reads a byte stream (a local file) into one reused 1 MiB buffer, so a large file allocates no
 * fresh chunks (the 10× baseline's peak memory grew by ~30 MB of them); any other stream as it
 * comes. Each chunk is consumed before the next read: `copyCsv` sends or copies it first.
 */
function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    const reader = body.getReader(); // not a byte stream (the S3 SDK's): fresh chunks
    return { read: () => reader.read(), cancel: () => reader.cancel() };
  }
  let buffer = new ArrayBuffer(CHUNK_BYTES);
  return {
    async read() {
      const next = await byob.read(new Uint8Array(buffer));
      if (next.value !== undefined) buffer = next.value.buffer as ArrayBuffer; // given back
      return next.done ? { done: true, value: undefined } : { done: false, value: next.value! };
    },
    cancel: () => byob.cancel(),
  };
}

/**
 * Reads chunks until the header record is complete; the chunks read so far (copies: the reader
 * reuses its buffer), or undefined.
 */
async function readHeader(
  reader: ChunkReader,
  shape: CsvShape,
  times: StageTimes,
): Promise<Uint8Array[] | undefined> {
  const head: Uint8Array[] = [];
  while (shape.headerBytes === undefined && shape.notPlain === undefined) {
    const { value, done } = await times.download(reader.read());
    if (done) return undefined;
    times.parse(() => shape.push(value));
    head.push(value.slice());
  }
  return shape.notPlain === undefined ? head : undefined;
}

function plainHeader(key: string, bytes: Uint8Array): Header | undefined {
  // COPY's HEADER skips one line: a header record spanning lines is not plain.
  if (bytes.includes(0x0a) || bytes.includes(0x0d)) return undefined;
  try {
    const header = parseHeaderLine(key, bytes);
    return header.names.every((name) => PLAIN_NAME.test(name)) ? header : undefined;
  } catch {
    return undefined; // the JavaScript way reports the unusable header
  }
}

async function* chunks(
  reader: ChunkReader,
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
      next = await options.times.download(reader.read());
    } catch (error) {
      options.signal?.throwIfAborted();
      throw new ReadFailure("Cannot read the change file", { cause: options.broken(bytes, error) });
    }
    if (next.done) break;
    bytes += next.value.byteLength;
    const chunk = next.value;
    options.times.parse(() => shape.push(chunk));
    if (shape.notPlain !== undefined) throw new NotPlain(shape.notPlain);
    yield next.value;
    options.progress?.(shape.records, bytes); // once the server has taken it
  }
  if (bytes !== options.expectedBytes) {
    throw new ReadFailure("The change file ended early", { cause: options.truncated(bytes) });
  }
}

/** A column name the copy way can use as a JSON key alias; any other sends the file to JavaScript. */
const PLAIN_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** lower() as JavaScript's on ASCII, whatever the database's locale (Turkish lowercases I to ı). */
const lower = (sql: string) => `lower(${sql} collate "C")`;
const upper = (sql: string) => `upper(${sql} collate "C")`;

/**
 * A value that is not ASCII: one byte a character, in a UTF-8 database (half the time of a
 * regular expression's test); elsewhere (SQL_ASCII counts every byte as a character) the
 * printable-ASCII test. The encoding is read once a statement (a subquery), not once a row.
 */
const notAscii = (sql: string) =>
  `coalesce(octet_length(${sql}) <> length(${sql})
            or (select getdatabaseencoding() <> 'UTF8') and ${sql} ~ '${NOT_ASCII}', false)`;

/**
 * The copied rows as SQL expressions, with the cleaning rules of cleanRecord(): the sentinel
 * and alarms recognised, dropped columns left out, "" as null, region lowercased, raw_status
 * uppercased, and `bad` for a row that is anything but a plain ticket, an alarm or the sentinel.
 * Cased in the "C" collation, on ASCII alone (anything else takes the JavaScript way): there SQL
 * and JavaScript case every character alike, control characters included.
 */
function copiedRow(header: Header) {
  const col = (i: number) => `c${i + 1}`;
  const id = col(header.id);
  const alarm = header.alarm < 0 ? "null" : col(header.alarm);
  const ascii = [header.region, header.status].filter((i) => i >= 0)
    .map((i) => `or ${notAscii(col(i))}`).join(" ");
  const value = (i: number) =>
    i === header.region
      ? lower(`nullif(${col(i)}, '')`)
      : i === header.status
      ? upper(`nullif(${col(i)}, '')`)
      : `nullif(${col(i)}, '')`;
  const kept = header.names.map((name, i) => ({ name, i }))
    .filter(({ name }) => !DROPPED_COLUMNS.has(name));
  const trimmedUpper = upper(`btrim(${id}, ' ')`);
  return {
    id,
    // strpos first: "EXPORT STOPPED…" has a space, and upper() on every id costs ~10 ms.
    sentinel: `coalesce(strpos(${id}, ' ') > 0 and ${trimmedUpper} like 'EXPORT STOPPED%'
                        and btrim(${id}, ' ') !~ '${NOT_ASCII}', false)`,
    alarm: `coalesce(${lower(alarm)} in ('true', 't', '1', 'yes', 'y'), false)`,
    bad: `(coalesce(length(${id}) not between 1 and 32 or ${id} ~ '${NOT_ID_CHAR}', true)
           or ${lower(id)} = 'ticket_id'
           or ${lower(`coalesce(${alarm}, '')`)} not in (${BOOLEAN_WORDS}) ${ascii})`,
    // The cleaned record, keyed by the header's names (aliases, quoted as identifiers).
    values: kept.map(({ name, i }) => `${value(i)} as ${ident(name)}`).join(", "),
  };
}

/**
 * Counts the copied rows in one scan; undefined when a row is anything but a plain ticket, an
 * alarm or the sentinel. Nothing is written: the merge reads the tickets from the copied rows
 * through {@linkcode copiedStage}. `offset 0` keeps the subquery apart, so each row's three
 * tests run once: pulled up into the counts, they ran once per count that names them (a
 * baseline's check took 104 ms instead of 43).
 */
async function checkRows(tx: SqlSession, header: Header): Promise<CopyStaged | undefined> {
  const row = copiedRow(header);
  const typeAt = header.names.indexOf("service_type");
  const type = typeAt < 0 ? "null::text" : serviceTypeSql(`c${typeAt + 1}`);
  // One count a dataset name ($1, $2, …): tickets whose service_type names it.
  const named = DATASET_NAMES.map((_, i) =>
    `count(*) filter (where ticket and type = $${i + 1})::int as named_${i}`
  );
  const [counts] = await tx.query<
    {
      rows_read: number;
      sentinels: number;
      alarms: number;
      bad: number;
      staged: number;
      [named: `named_${number}`]: number;
    }
  >(
    `select count(*)::int as rows_read,
            count(*) filter (where sentinel)::int as sentinels,
            count(*) filter (where not sentinel and bad)::int as bad,
            count(*) filter (where not sentinel and not bad and alarm)::int as alarms,
            count(*) filter (where ticket)::int as staged,
            ${named.join(", ")}
     from (select *, not sentinel and not bad and not alarm as ticket
           from (select ${row.sentinel} as sentinel, ${row.alarm} as alarm, ${row.bad} as bad,
                        ${type} as type
                 from fleettickets_csv offset 0) t) r`,
    [...DATASET_NAMES],
  );
  if (counts === undefined || counts.bad > 0) return undefined;
  const serviceTypes: ServiceTypeTally = {};
  DATASET_NAMES.forEach((name, i) => {
    if (counts[`named_${i}`]! > 0) serviceTypes[name] = counts[`named_${i}`]!;
  });
  return {
    rowsRead: counts.rows_read,
    rows: counts.staged,
    alarmsDropped: counts.alarms,
    sentinelsDropped: counts.sentinels,
    stage: copiedStage(row),
    columns: header.names,
    serviceTypes,
  };
}

/** The copied tickets as a stage the merge reads: (seq, ticket_id, raw), alarms and sentinel left out. */
function copiedStage(row: ReturnType<typeof copiedRow>): string {
  return `(select c.seq, c.${row.id} as ticket_id, to_jsonb(k) as raw
  from fleettickets_csv c cross join lateral (select ${row.values}) k
  where not ${row.sentinel} and not ${row.alarm})`;
}
