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

/**
 * What the large reads are, as a refusal names them: every kind shares the slots. The number is
 * `DEFAULT_LIMIT` (routes_tickets.ts).
 */
export const LARGE_READ_KINDS =
  "pages or CSV exports that may hold more than 5000 tickets: a limit over 5000, the " +
  "export's default of 50000 included; map payloads of every ticket";

/** Seconds a client refused for want of a slot is told to wait (`Retry-After`). */
export const RETRY_AFTER_S = 5;

/** A slot held; `release()` frees it (more calls do nothing). */
export interface Slot {
  release(): void;
}

/** Why no slot was given: the queue was full, the wait too long, or the client left waiting. */
export interface Refusal {
  refused: "queue full" | "waited" | "gone";
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

  /**
   * A slot, at once or in turn; a refusal when the queue is full or the wait too long, or when
   * `gone` (the client's request signal) aborts while it waits: its place goes to the next (before,
   * a read whose client had left was still built when its turn came).
   */
  acquire(gone?: AbortSignal): Promise<Slot | Refusal> {
    if (gone?.aborted) return Promise.resolve({ refused: "gone" });
    if (this.#busy < this.limits.slots) {
      this.#busy++;
      return Promise.resolve(this.#slot());
    }
    if (this.#waiting.length >= this.limits.queue) {
      return Promise.resolve({ refused: "queue full" });
    }
    return new Promise((resolve) => {
      const leave = (refusal: Refusal) => {
        clearTimeout(timer);
        gone?.removeEventListener("abort", onGone);
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        resolve(refusal);
      };
      const waiter = (slot: Slot) => {
        clearTimeout(timer);
        gone?.removeEventListener("abort", onGone);
        resolve(slot);
      };
      const onGone = () => leave({ refused: "gone" });
      const timer = setTimeout(() => leave({ refused: "waited" }), this.limits.waitMs);
      gone?.addEventListener("abort", onGone, { once: true });
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
 * `cut` (the server stopping) aborts. `ended` is called once: without a reason when the client
 * has been handed the last chunk, else with why it stopped (the access line reports it).
 */
export function heldBody(
  bytes: Uint8Array,
  slot: Slot,
  limits: Pick<Limits, "stallMs" | "minBytesPerSecond">,
  cut?: AbortSignal,
  ended: (reason?: unknown) => void = () => {},
): ReadableStream<Uint8Array> {
  const held = new HeldBody(bytes, slot, limits, cut, ended);
  return new ReadableStream<Uint8Array>({
    start: (controller) => held.start(controller),
    pull: (controller) => held.pull(controller),
    cancel: () => held.end(new Error("the client closed the connection"), false), // it left
  }, { highWaterMark: 0 });
}

/**
 * Marks a body's error as told by its request's access line, which the server's `request_failed`
 * line then leaves out (it could name neither the method nor the path).
 */
export function reportedInAccessLine<T>(reason: T): T {
  if (typeof reason === "object" && reason !== null) {
    Object.assign(reason, { reportedInAccessLine: true });
  }
  return reason;
}

/** The state of one {@linkcode heldBody}. */
class HeldBody {
  readonly #bytes: Uint8Array;
  readonly #slot: Slot;
  readonly #limits: Pick<Limits, "stallMs" | "minBytesPerSecond">;
  readonly #cut: AbortSignal | undefined;
  readonly #began = performance.now();
  readonly #onCut = () => this.end(this.#cut!.reason);
  readonly #ended: (reason?: unknown) => void;
  #over = false;
  #sent = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;

  constructor(
    bytes: Uint8Array,
    slot: Slot,
    limits: Pick<Limits, "stallMs" | "minBytesPerSecond">,
    cut: AbortSignal | undefined,
    ended: (reason?: unknown) => void,
  ) {
    this.#ended = ended;
    this.#bytes = bytes;
    this.#slot = slot;
    this.#limits = limits;
    this.#cut = cut;
    if (cut?.aborted) queueMicrotask(this.#onCut);
    else cut?.addEventListener("abort", this.#onCut, { once: true });
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    this.#watch();
  }

  /** Hands the client the next chunk; the slot is freed with the last. */
  pull(controller: ReadableStreamDefaultController<Uint8Array>): void {
    const chunk = this.#bytes.subarray(this.#sent, this.#sent + CHUNK_BYTES);
    this.#sent += chunk.byteLength;
    controller.enqueue(chunk);
    if (this.#sent < this.#bytes.byteLength) return this.#watch();
    controller.close();
    this.end();
  }

  /**
   * Frees the slot, once; with a `reason`, the body ends with it as its error (unless the client
   * left: nothing to end).
   */
  end(reason?: unknown, error = true): void {
    clearTimeout(this.#timer);
    this.#cut?.removeEventListener("abort", this.#onCut);
    this.#slot.release();
    if (this.#over) return;
    this.#over = true;
    this.#ended(reason);
    if (reason === undefined || !error) return;
    try {
      this.#controller?.error(reportedInAccessLine(reason));
    } catch { /* already closed */ }
  }

  /** The deadline of the next chunk: `stallMs` from now, and not later than the pace allows. */
  #watch(): void {
    clearTimeout(this.#timer);
    const { stallMs, minBytesPerSecond } = this.#limits;
    const now = performance.now();
    const paced = this.#began + stallMs + ((this.#sent + CHUNK_BYTES) / minBytesPerSecond) * 1000;
    const stalled = now + stallMs;
    this.#timer = setTimeout(
      () => this.end(this.#tooSlow(stalled <= paced)),
      Math.max(0, Math.min(paced, stalled) - now),
    );
  }

  /** Why the body was cut, naming the rule that fired (before: both, whichever it was). */
  #tooSlow(stalled: boolean): Error {
    const { stallMs, minBytesPerSecond } = this.#limits;
    const seconds = Math.round((performance.now() - this.#began) / 1000);
    const took = `${this.#sent} of ${this.#bytes.byteLength} bytes in ${seconds} s`;
    return new Error(
      stalled
        ? `the client took nothing for ${stallMs / 1000} s (it had taken ${took})`
        : `the client took ${took}: slower than ${minBytesPerSecond / 1024} KiB/s on average ` +
          `after its first ${stallMs / 1000} s`,
    );
  }
}
