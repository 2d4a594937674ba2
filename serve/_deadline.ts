// A deadline on serve's side for a read: a database that is stopped (SIGSTOP), or a network that
// drops packets, answers nothing, and its own statement timeout cannot fire. Private to serve/.

/** The database did not answer a read within its deadline. */
export class NoAnswerError extends Error {
  /** Creates the error naming how long serve waited. */
  constructor(readonly waitedMs: number) {
    super(`The database did not answer within ${waitedMs / 1000} s`);
    this.name = "NoAnswerError";
  }
}

/**
 * `work`, or a {@linkcode NoAnswerError} once `ms` have passed without it settling. Each wait has
 * its own deadline (a wait for a large read's turn before it is not counted).
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoAnswerError(ms)), ms);
  });
  work.catch(() => {}); // a read given up on may still fail later: nobody waits for it then
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/**
 * How long serve waits for a read's answer: its statements (the version, the data) each have the
 * statement timeout, which a live server enforces itself.
 */
export function readDeadlineMs(statementTimeoutMs: number): number {
  return 2 * statementTimeoutMs + 1000;
}

/** How long the health check waits: one small statement, and a load balancer waiting for it. */
export function healthDeadlineMs(statementTimeoutMs: number): number {
  return Math.min(statementTimeoutMs, 2000) + 1000;
}
