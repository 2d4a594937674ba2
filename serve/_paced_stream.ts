// A response body written in batches at the client's pace. Private to serve/.

/** A body and the means to write it. */
export interface PacedStream {
  /** The response body. */
  body: ReadableStream<Uint8Array>;
  /** Aborts when the client goes away (or stops taking batches): stop producing. */
  signal: AbortSignal;
  /**
   * Queues a batch of `rows` rows, then waits while the client has not taken the ones before
   * (at most `queued` batches wait in memory); rejects when it takes nothing for `slowMs`.
   */
  write(text: string, rows: number): Promise<void>;
  /** Rows queued so far. */
  readonly rows: number;
  /** Ends the body after the last batch. */
  close(): void;
  /** Ends the body with an error (the client sees a cut response). */
  error(reason: unknown): void;
}

/** Options for {@linkcode pacedStream}. */
export interface PacedStreamOptions {
  /** Batches that may wait in memory (default 2). */
  queued?: number;
  /** How long the client may take nothing before the stream gives up, ms. */
  slowMs: number;
}

/** Makes a body whose producer waits for the client (see {@linkcode PacedStream}). */
export function pacedStream(options: PacedStreamOptions): PacedStream {
  const encoder = new TextEncoder();
  const stop = new AbortController();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let taken = () => {};
  let rows = 0;
  const body = new ReadableStream<Uint8Array>({
    start: (ctl) => void (controller = ctl),
    pull: () => taken(),
    cancel: () => {
      stop.abort(new Error("the client closed the connection"));
      taken();
    },
  }, { highWaterMark: options.queued ?? 2 });
  const untilTaken = () =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const reason = new Error(`the client took nothing for ${options.slowMs / 1000} s`);
        stop.abort(reason);
        reject(reason);
      }, options.slowMs);
      taken = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  return {
    body,
    signal: stop.signal,
    async write(text, batchRows) {
      stop.signal.throwIfAborted();
      controller.enqueue(encoder.encode(text));
      rows += batchRows;
      if ((controller.desiredSize ?? 1) <= 0) await untilTaken();
    },
    get rows() {
      return rows;
    },
    close: () => {
      if (!stop.signal.aborted) controller.close(); // a client that left has no body to end
    },
    error: (reason) => controller.error(reason),
  };
}
