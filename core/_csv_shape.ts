// The shape of a CSV byte stream, checked in one pass as the bytes go by (to the database's own
// COPY parser). Private to core/.
//
// A file is "plain" when the server's CSV parser and ours (csv-parse, strict quotes) must read it
// the same way: every quote opens or closes a field (or is doubled inside one), no NUL byte, no
// blank line, every record has exactly the header's number of fields, no field over the size
// limit. Anything else goes through the JavaScript parser, which quarantines what it must.

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;

/** The header record may be at most this long (bytes) to be read here. */
const MAX_HEADER_BYTES = 64 * 1024;

/** Checks a CSV byte stream chunk by chunk; see the file comment for what "plain" means. */
export class CsvShape {
  /** The header record's bytes (BOM excluded), once its end was seen. */
  headerBytes: Uint8Array | undefined;
  /** Data records seen (the header not counted). */
  records = 0;
  /** Why the stream is not plain; undefined while it is. */
  notPlain: string | undefined;

  #maxFieldBytes: number;
  #state = FIELD_START;
  #fields = 0; // fields finished in the current record
  #fieldBytes = 0;
  #recordBytes = 0; // bytes in the current record (0 at a record start)
  #headerFields = -1;
  #afterCr = false;
  #head: number[] = [];
  #first = true;

  constructor(maxFieldBytes: number) {
    this.#maxFieldBytes = maxFieldBytes;
  }

  /** Scans the next chunk. */
  push(chunk: Uint8Array): void {
    let i = 0;
    if (this.#first) {
      this.#first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    const n = chunk.length;
    while (i < n && this.notPlain === undefined) {
      i = this.#run(chunk, i);
      if (i < n && this.notPlain === undefined) this.#byte(chunk[i++]!);
    }
  }

  /**
   * Skips the bytes from `i` that #byte would only count (inside an unquoted or quoted field,
   * once the header is known) and counts them at once; returns the index of the next byte that
   * needs #byte. Most of a file is such bytes.
   */
  #run(chunk: Uint8Array, i: number): number {
    if (this.headerBytes === undefined) return i;
    const state = this.#state;
    let j = i;
    if (state === UNQUOTED) {
      for (; j < chunk.length; j++) {
        const b = chunk[j]!;
        if (b === COMMA || b === LF || b === CR || b === QUOTE || b === NUL) break;
      }
    } else if (state === QUOTED) {
      const n = chunk.length;
      for (;;) {
        for (; j < n; j++) {
          const b = chunk[j]!;
          if (b === QUOTE || b === NUL) break;
        }
        // `","`: this field closes and the next, quoted too, begins (most of a file that quotes
        // every field): its three bytes counted here as #byte would count them.
        if (chunk[j] !== QUOTE || chunk[j + 1] !== COMMA || chunk[j + 2] !== QUOTE) break;
        if (this.#fieldBytes + (j - i) + 1 > this.#maxFieldBytes) break; // #byte says why
        this.#afterCr = false;
        this.#recordBytes += j - i + 3;
        this.#fields++;
        this.#fieldBytes = 1;
        j += 3;
        i = j;
      }
    } else {
      return i;
    }
    if (j > i) {
      this.#afterCr = false;
      this.#recordBytes += j - i;
      this.#fieldBytes += j - i;
      if (this.#fieldBytes > this.#maxFieldBytes) this.#fail("a field over the size limit");
    }
    return j;
  }

  /** Ends the stream: a last record without a line end counts; an open quote is not plain. */
  finish(): void {
    if (this.notPlain !== undefined) return;
    if (this.#state === QUOTED) this.notPlain = "an unterminated quote";
    else if (this.#recordBytes > 0) this.#endRecord();
    if (this.headerBytes === undefined && this.notPlain === undefined) this.notPlain = "no header";
  }

  #byte(b: number): void {
    if (this.headerBytes === undefined) {
      if (this.#head.length >= MAX_HEADER_BYTES) return this.#fail("a header over 64 KiB");
      this.#head.push(b);
    }
    if (b === NUL) return this.#fail("a NUL byte");
    if (b === LF && this.#afterCr && this.#recordBytes === 0) {
      this.#afterCr = false; // the LF of a CRLF record end
      if (this.headerBytes === undefined) this.#head.pop();
      return;
    }
    this.#afterCr = false;
    switch (this.#state) {
      case FIELD_START:
        if (b === QUOTE) this.#state = QUOTED;
        else if (b === COMMA) return this.#endField();
        else if (b === LF || b === CR) return this.#lineEnd(b);
        else this.#state = UNQUOTED;
        break;
      case UNQUOTED:
        if (b === QUOTE) return this.#fail("a quote inside an unquoted field");
        if (b === COMMA) return this.#endField();
        if (b === LF || b === CR) return this.#lineEnd(b);
        break;
      case QUOTED:
        if (b === QUOTE) this.#state = QUOTE_IN_QUOTED;
        break;
      case QUOTE_IN_QUOTED:
        if (b === QUOTE) this.#state = QUOTED;
        else if (b === COMMA) return this.#endField();
        else if (b === LF || b === CR) return this.#lineEnd(b);
        else return this.#fail("text after a closing quote");
        break;
    }
    this.#recordBytes++;
    if (++this.#fieldBytes > this.#maxFieldBytes) this.#fail("a field over the size limit");
  }

  #endField(): void {
    this.#fields++;
    this.#fieldBytes = 0;
    this.#recordBytes++;
    this.#state = FIELD_START;
  }

  #lineEnd(b: number): void {
    if (this.#recordBytes === 0) return this.#fail("a blank line");
    if (this.headerBytes === undefined) this.#head.pop();
    this.#afterCr = b === CR;
    this.#endRecord();
  }

  #endRecord(): void {
    const fields = this.#fields + 1;
    if (this.headerBytes === undefined) {
      this.headerBytes = Uint8Array.from(this.#head);
      this.#head = [];
      this.#headerFields = fields;
    } else if (fields !== this.#headerFields) {
      return this.#fail(`a record with ${fields} fields, header has ${this.#headerFields}`);
    } else {
      this.records++;
    }
    this.#fields = 0;
    this.#fieldBytes = 0;
    this.#recordBytes = 0;
    this.#state = FIELD_START;
  }

  #fail(reason: string): void {
    this.notPlain ??= reason;
  }
}
