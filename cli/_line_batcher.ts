/**
 * Lines written together: `serve` logs one line per request, and one write per line cost a
 * quarter of its JavaScript time under load. Lines wait at most `delayMs` (or until `maxLines`
 * are held), in order; `flush()` writes what is held at once (before exiting).
 *
 * @module
 */

/** A writer of lines in batches. */
export interface LineBatcher {
  /** Holds one line (without its newline) for the next write. */
  push(line: string): void;
  /** Writes every held line now. */
  flush(): void;
}

/** Batches lines for `write`, which gets whole lines, each ending with a newline. */
export function lineBatcher(
  write: (text: string) => void,
  options: { delayMs?: number; maxLines?: number } = {},
): LineBatcher {
  const delayMs = options.delayMs ?? 10;
  const maxLines = options.maxLines ?? 500;
  let held: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (held.length === 0) return;
    const text = held.join("\n") + "\n";
    held = [];
    write(text);
  };
  return {
    push(line) {
      held.push(line);
      if (held.length >= maxLines) flush();
      else timer ??= setTimeout(flush, delayMs);
    },
    flush,
  };
}
