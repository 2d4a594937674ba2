/**
 * Notices a database that stopped answering while a statement waits for it. Private to adapters/.
 *
 * A server that is stopped (SIGSTOP, a frozen VM) or a network that drops packets sends nothing,
 * not even a reset: the statement waits for ever, and so did every scheduled run after it (a
 * tester's). A long statement looks the same from here, so silence alone proves nothing: after
 * `afterMs` without an answer the watch asks the server on a new connection (`probe`). A server
 * that answers it is alive and busy, and the wait goes on; one that does not is given up on
 * (`onStall`), which ends the waiting statements.
 *
 * @module
 */

/** What {@linkcode watchStalls} is told and asks. */
export interface StallWatchOptions {
  /** Milliseconds without an answer before the server is asked whether it still answers. */
  afterMs: number;
  /**
   * Asks the server on a new connection; resolves true when it answered (an error of its own,
   * such as too many connections, is an answer), false when nothing came in time. Never rejects.
   */
  probe: () => Promise<boolean>;
  /** The server did not answer the probe: end the waits. Called once. */
  onStall: (silentMs: number) => void;
  /** The clock (tests). */
  now?: () => number;
}

/** What {@linkcode watchStalls} gives the adapter. */
export interface StallWatch {
  /** A wait on the server begins; the function it returns ends it. */
  begin(): () => void;
  /** `wait()` as a wait on the server: begun before it is called, ended however it settles. */
  during<T>(wait: () => PromiseLike<T>): Promise<T>;
  /** The server answered something (a statement ended, a COPY chunk was taken). */
  answered(): void;
  /** Stops watching (the pool is closing). */
  stop(): void;
}

/** Starts watching; nothing is checked while nothing waits. */
export function watchStalls(options: StallWatchOptions): StallWatch {
  const { afterMs, probe, onStall, now = Date.now } = options;
  let waiting = 0;
  let lastAnswer = now();
  let answers = 0; // each answer counted: one during a probe keeps the server
  let probing = false;
  let done = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const heard = () => {
    lastAnswer = now();
    answers++;
  };

  const check = async () => {
    if (done || probing || waiting === 0 || now() - lastAnswer < afterMs) return;
    probing = true;
    const before = answers;
    const alive = await probe().catch(() => true).finally(() => {
      probing = false;
    });
    if (done || waiting === 0) return;
    // Busy, not gone (or it answered a waiting statement meanwhile): ask again after afterMs.
    if (alive || answers !== before) {
      if (alive) heard();
      return;
    }
    done = true;
    clearInterval(timer);
    onStall(now() - lastAnswer);
  };

  const begin = () => {
    if (waiting++ === 0) heard();
    if (timer === undefined && !done) {
      const every = setInterval(check, Math.max(10, Math.min(5000, afterMs / 4)));
      Deno.unrefTimer(every); // never what keeps the process alive
      timer = every;
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      waiting--;
      heard();
    };
  };

  return {
    begin,
    async during(wait) {
      const end = begin();
      try {
        return await wait();
      } finally {
        end();
      }
    },
    answered: heard,
    stop() {
      done = true;
      clearInterval(timer);
    },
  };
}
