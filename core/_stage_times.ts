// Where a change file's staging time goes (`ingest --profile`): waiting for the object store's
// bytes (download), and JavaScript's own work on them (parse: the shape check of the database's
// way; parsing, cleaning and batching of the JavaScript way). What is left of the stage is the
// database's: the COPY (encoding and sending the rows, the server storing them) and, the
// database's way, its row check. The bytes stream through, so the parts take turns rather than
// overlap: each wait is counted once. Private to core/.

/** The download and parse time of one file's stage, ms, as they accrue. */
export class StageTimes {
  /** Waiting for the store: opening the object and each read of its bytes. */
  downloadMs = 0;
  /** JavaScript's own work on the bytes. */
  parseMs = 0;

  /** Awaits `pending` (a read of the store), counting the wait as download. */
  async download<T>(pending: Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await pending;
    } finally {
      this.downloadMs += performance.now() - started;
    }
  }

  /** Runs `work` (synchronous), counting its time as parse. */
  parse<T>(work: () => T): T {
    const started = performance.now();
    try {
      return work();
    } finally {
      this.parseMs += performance.now() - started;
    }
  }

  /**
   * `body`, each of its reads counted as download. Read on demand (no read-ahead): a read
   * happens only when the parser asks for bytes, so its wait is the parser's too.
   */
  timedBody(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const next = await this.download(reader.read());
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
  }

  /**
   * The items of `source` as they come, the time spent producing each counted as parse, less
   * what it spent waiting for the store (counted as download by {@linkcode timedBody}).
   */
  async *timedItems<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
    const items = source[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const started = performance.now();
        const downloaded = this.downloadMs;
        const next = await items.next();
        this.parseMs += performance.now() - started - (this.downloadMs - downloaded);
        if (next.done) {
          finished = true;
          return;
        }
        yield next.value;
      }
    } finally {
      if (!finished) await items.return?.();
    }
  }
}

/** A file's stage split into download, parse and the database's COPY, ms (one decimal). */
export function stageParts(
  stageMs: number,
  times: StageTimes,
): { downloadMs: number; parseMs: number; copyMs: number } {
  const tenth = (ms: number) => Math.round(ms * 10) / 10;
  const downloadMs = tenth(Math.min(times.downloadMs, stageMs));
  const parseMs = tenth(Math.min(times.parseMs, stageMs - downloadMs));
  return { downloadMs, parseMs, copyMs: tenth(Math.max(0, stageMs - downloadMs - parseMs)) };
}
