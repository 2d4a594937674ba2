/**
 * How many connections `serve` can hold: every connection, idle ones too, takes a file
 * descriptor, and the process may have only so many (`ulimit -n`; Deno raises its soft limit to
 * the hard one, `ulimit -Hn`, at start). Deno has no call that reads the limit (getrlimit), and
 * serve may not run `ulimit` nor read `/proc` (its permissions), so {@linkcode spareDescriptors}
 * counts what it can open.
 *
 * @module
 */

/** Fewer spare descriptors than this at start is warned of: a few hundred clients fill them. */
export const FEW_DESCRIPTORS = 1000;

/**
 * How many more file descriptors the process can open now, up to `upTo`: it opens `path` (a
 * folder it may read) until the system refuses or `upTo` are open, then closes them all
 * (1,000 take ~30 ms). `upTo` when it cannot tell (`path` cannot be opened at all).
 */
export function spareDescriptors(upTo: number, path = "."): number {
  const opened: Deno.FsFile[] = [];
  try {
    while (opened.length < upTo) opened.push(Deno.openSync(path));
  } catch (error) {
    if (!/too many open files|os error (23|24)\b/i.test(String(error))) return upTo;
  } finally {
    for (const file of opened) file.close();
  }
  return opened.length;
}

/**
 * The warning to log when fewer than {@linkcode FEW_DESCRIPTORS} descriptors are spare for
 * clients; undefined when there are enough. `reserved`: those the database connections not
 * opened yet will take (PostgreSQL's pool, health and listening connections), not the clients'.
 */
export function fewDescriptorsWarning(
  reserved = 0,
  spare = spareDescriptors(FEW_DESCRIPTORS + reserved),
): Record<string, unknown> | undefined {
  const left = Math.max(0, spare - reserved);
  if (left >= FEW_DESCRIPTORS) return undefined;
  const kept = reserved > 0 ? ` (${reserved} more are kept for the database's connections)` : "";
  return {
    level: "warn",
    event: "few_descriptors",
    spare: left,
    message: `Serve can hold about ${left} connections at once${kept}: the limit of open files ` +
      `is low (each connection takes one, idle ones too); raise it to 4096 or more (ulimit -n, ` +
      `and ulimit -Hn for deno run; LimitNOFILE= in a systemd unit; --ulimit nofile= with ` +
      `Docker) or put a reverse proxy (nginx, Caddy) in front of serve`,
  };
}
