/**
 * "Did you mean …?": the known word closest to a mistyped one. Private to cli/.
 *
 * @module
 */

/** Edit distance (insertions, deletions, substitutions) between two words. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `word`, if it is close enough to be a typo (at most a third of its
 * letters differ, and at least one edit away is always allowed), else undefined.
 *
 * @example
 * ```ts
 * closest("--aply", ["--apply", "--json"]); // "--apply"
 * closest("--frobnicate", ["--apply", "--json"]); // undefined
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  const allowed = Math.max(2, Math.floor(word.replace(/^-+/, "").length / 3));
  return bestDistance <= allowed ? best : undefined;
}
