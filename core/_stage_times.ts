// Where a change file's staging time goes (`ingest --profile`): waiting for the object store's
// bytes (download), and JavaScript's own work on them (parse: the shape check of the database's
// way; parsing, cleaning and batching of the JavaScript way). What is left of the stage is the
// database's: the COPY (encoding and sending the rows, the server storing them) and, the
// database's way, its row check. A moment counts once, under the part that was waited for: a read
// of the store made ahead while the database took a batch is COPY time. Private to core/.

import { untilStopped } from "./sleep.ts";

/**
 * The download and parse time of one file's stage, ms, as they accrue. Once items are timed
 * ({@linkcode StageTimes.timedItems}: the JavaScript way, whose parser reads through streams
 * that read ahead), a read counts as download only while an item is being waited for: a read
 * made ahead while the database takes a batch is nobody's wait, and one that began then counts
 * from the moment the parser asks. Before that (opening the object; the database's way, which
 * reads a chunk only when the COPY asks for it) every read counts whole.
 */
export class StageTimes {
  /** Waiting for the store: opening the object and each read of its bytes. */
  downloadMs = 0;
  /** JavaScript's own work on the bytes. */
  parseMs = 0;
  #reads = 0; // reads under way
  #waits = 0; // items being waited for
  #gated = false; // items are timed: reads count only while one is waited for
  #since = performance.now(); // when #reads or #waits last changed
  readonly #signal: AbortSignal | undefined;

  /** `signal`: a stop, which ends a read of the store still waited for at once. */
  constructor(signal?: AbortSignal) {
    this.#signal = signal;
  }

  /** Adds the time since the last change to download when a read was someone's wait. */
  #advance(): void {
    const now = performance.now();
    if (this.#reads > 0 && (!this.#gated || this.#waits > 0)) this.downloadMs += now - this.#since;
    this.#since = now;
  }

  /**
   * Awaits `pending` (a read of the store), counting the wait as download; rejects with the stop's
   * reason once the run is stopped (a stalled store sees no signal: before, a stopped run waited
   * out its grace and ended without recording its end, a tester's).
   */
  async download<T>(pending: Promise<T>): Promise<T> {
    this.#advance();
    this.#reads++;
    try {
      return await untilStopped(pending, this.#signal);
    } finally {
      this.#advance();
      this.#reads--;
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

  /** `body`, each of its reads counted as download (see the class). */
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
   * The items of `source` as they come, the time spent waiting for each counted as parse, less
   * what of it went to reads of the store (download).
   */
  async *timedItems<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
    this.#gated = true;
    const items = source[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const next = await this.#waitFor(() => items.next());
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

  /** Waits for the next item, adding the wait less its download to parse. */
  async #waitFor<T>(next: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const downloaded = this.downloadMs;
    this.#advance();
    this.#waits++;
    try {
      return await next();
    } finally {
      this.#advance();
      this.#waits--;
      this.parseMs += performance.now() - started - (this.downloadMs - downloaded);
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
  const parseMs = tenth(Math.max(0, Math.min(times.parseMs, stageMs - downloadMs)));
  return { downloadMs, parseMs, copyMs: tenth(Math.max(0, stageMs - downloadMs - parseMs)) };
}
