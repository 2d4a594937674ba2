// How many large reads serve builds or sends at once, and how long a large body may wait for its
// client. Private to serve/.

/**
 * The bounds of large reads: `slots` of them are built or sent at once, `queue` more wait, each
 * at most `waitMs`; a large body whose client takes nothing for `stallMs`, or falls behind
 * `minBytesPerSecond` once `stallMs` have passed, is cut (its connection closed).
 */
export const LARGE_READS = {
  slots: 2,
  queue: 64,
  waitMs: 10_000,
  stallMs: 20_000,
  minBytesPerSecond: 16 * 1024,
};

/**
 * A body over this many bytes keeps its slot until the client has taken it (or left); a smaller
 * one frees it once built.
 */
export const LARGE_BODY_BYTES = 4 << 20;

/** Seconds a client refused for want of a slot is told to wait (`Retry-After`). */
export const RETRY_AFTER_S = 5;

/** A slot held; `release()` frees it (more calls do nothing). */
export interface Slot {
  release(): void;
}

/** Why no slot was given: the queue was full, or the wait too long. */
export interface Refusal {
  refused: "queue full" | "waited";
}

type Limits = typeof LARGE_READS;

/** The slots of large reads and their queue ({@linkcode LARGE_READS}). */
export class LargeReads {
  readonly limits: Limits;
  #busy = 0;
  #waiting: ((slot: Slot) => void)[] = [];

  constructor(limits: Partial<Limits> = {}) {
    this.limits = { ...LARGE_READS, ...limits };
  }

  /** Reads being built or sent now. */
  get busy(): number {
    return this.#busy;
  }

  /** Reads waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** A slot, at once or in turn; a refusal when the queue is full or the wait too long. */
  acquire(): Promise<Slot | Refusal> {
    if (this.#busy < this.limits.slots) {
      this.#busy++;
      return Promise.resolve(this.#slot());
    }
    if (this.#waiting.length >= this.limits.queue) {
      return Promise.resolve({ refused: "queue full" });
    }
    return new Promise((resolve) => {
      const waiter = (slot: Slot) => {
        clearTimeout(timer);
        resolve(slot);
      };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        resolve({ refused: "waited" });
      }, this.limits.waitMs);
      this.#waiting.push(waiter);
    });
  }

  #slot(): Slot {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const next = this.#waiting.shift();
        if (next === undefined) this.#busy--;
        else next(this.#slot()); // handed over: still busy
      },
    };
  }
}

/** Bytes handed to the client per chunk of a large body. */
const CHUNK_BYTES = 64 * 1024;

/**
 * `bytes` as a body handed to the client in chunks as it takes them, holding `slot` until the
 * last is taken, the client leaves, or it is cut: when the client takes nothing for
 * `stallMs`, or (after `stallMs`) takes less than `minBytesPerSecond` on average, or when
 * `cut` (the server stopping) aborts.
 */
export function heldBody(
  bytes: Uint8Array,
  slot: Slot,
  limits: Pick<Limits, "stallMs" | "minBytesPerSecond">,
  cut?: AbortSignal,
): ReadableStream<Uint8Array> {
  const began = performance.now();
  let sent = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const end = (reason?: unknown) => {
    clearTimeout(timer);
    cut?.removeEventListener("abort", onCut);
    slot.release();
    if (reason !== undefined) {
      try {
        controller.error(reason);
      } catch { /* already closed */ }
    }
  };
  const onCut = () => end(cut!.reason);
  // The deadline of the next chunk: `stallMs` from now, and not later than the pace allows.
  const watch = () => {
    clearTimeout(timer);
    const now = performance.now();
    const paced = began + limits.stallMs + ((sent + CHUNK_BYTES) / limits.minBytesPerSecond) * 1000;
    const stalled = now + limits.stallMs;
    timer = setTimeout(() => {
      const seconds = Math.round((performance.now() - began) / 1000);
      end(
        new Error(
          `the client took ${sent} of ${bytes.byteLength} bytes in ${seconds} s: too slow ` +
            `(it must take some every ${limits.stallMs / 1000} s, ` +
            `${limits.minBytesPerSecond / 1024} KiB/s on average)`,
        ),
      );
    }, Math.max(0, Math.min(paced, stalled) - now));
  };
  if (cut?.aborted) queueMicrotask(onCut);
  else cut?.addEventListener("abort", onCut, { once: true });
  return new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
      watch();
    },
    pull: (c) => {
      const chunk = bytes.subarray(sent, sent + CHUNK_BYTES);
      sent += chunk.byteLength;
      c.enqueue(chunk);
      if (sent < bytes.byteLength) return watch();
      c.close();
      end();
    },
    cancel: () => end(), // the client left
  }, { highWaterMark: 0 });
}
