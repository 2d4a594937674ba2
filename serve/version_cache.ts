/**
 * The serve process's memory of the data version, so that a conditional request whose ETag still
 * matches is answered `304` without touching the database. A token is remembered from a read
 * inside a request's own snapshot, and forgotten on a change notification (PostgreSQL
 * `NOTIFY` from the drain's transaction, delivered at commit) or once it is `ttlMs` old
 * (PGlite, a replica, a lost listener): a `304` may be answered at most `ttlMs` after a newer
 * file was applied when notifications are lost, and at once when they arrive.
 *
 * @module
 */

/** The channel a change of `tickets.import_meta` is notified on (`definitions/95_*.sql`). */
export const DATA_CHANGED_CHANNEL = "fleettickets_data_changed";

/** Where a version read began: a token is stored only if nothing was forgotten since. */
export interface VersionReadStart {
  /** Invalidations counted when the read began. */
  readonly generation: number;
  /** Clock (ms) when the read began: the token's age counts from here. */
  readonly at: number;
}

/** The remembered data version (a token, or what it was read with); `ttlMs` 0 remembers nothing. */
export class VersionCache<T = string> {
  readonly ttlMs: number;
  #now: () => number;
  #token: T | undefined;
  #at = 0;
  #generation = 0;
  #waiting: (() => void)[] = [];
  #reading: Promise<T | undefined> | undefined;

  /** Creates the cache; `now` is a millisecond clock (tests). */
  constructor(ttlMs: number, now: () => number = () => performance.now()) {
    this.ttlMs = ttlMs;
    this.#now = now;
  }

  /** The token, when one is remembered and younger than `ttlMs`. */
  fresh(): T | undefined {
    if (this.#token === undefined) return undefined;
    if (this.#now() - this.#at >= this.ttlMs) {
      this.#token = undefined;
      return undefined;
    }
    return this.#token;
  }

  /** Invalidations so far: a change notified since a read makes this differ from its start's. */
  get generation(): number {
    return this.#generation;
  }

  /** Call before reading the version in a snapshot; hand the result to {@linkcode store}. */
  begin(): VersionReadStart {
    return { generation: this.#generation, at: this.#now() };
  }

  /**
   * Remembers `token` read in a snapshot that began after `start`, unless a change was
   * notified since (the snapshot may predate it) or a younger token is already held.
   */
  store(start: VersionReadStart, token: T): void {
    if (this.ttlMs <= 0 || start.generation !== this.#generation) return;
    if (this.#token !== undefined && this.#at > start.at) return;
    this.#token = token;
    this.#at = start.at;
  }

  /**
   * The token, read with `read` unless one is remembered; concurrent callers share one read (a
   * forgotten token would otherwise send every request in flight to the database at once).
   * Undefined when the read failed or a change was notified while it ran.
   */
  refresh(read: () => Promise<T>): Promise<T | undefined> {
    const known = this.fresh();
    if (known !== undefined || this.ttlMs <= 0) return Promise.resolve(known);
    if (this.#reading) return this.#reading;
    const start = this.begin();
    const reading = read().then((token) => {
      this.store(start, token);
      return start.generation === this.#generation ? token : undefined;
    }, () => undefined).finally(() => this.#reading = undefined);
    this.#reading = reading;
    return reading;
  }

  /** Forgets the token: the data may have changed (a notification, or a listener restart). */
  invalidate(): void {
    this.#generation++;
    this.#token = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** Settles at the next {@linkcode invalidate} (tests wait for a notification with it). */
  invalidated(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}
