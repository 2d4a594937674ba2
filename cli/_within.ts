/**
 * A bound on a wait that cannot be aborted (a listing, a check). Private to cli/.
 *
 * @module
 */

/** Resolves within `ms` or rejects saying nothing answered (`work` itself is not stopped). */
export function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
