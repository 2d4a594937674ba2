// A failed connection's error code in words, shared by the adapters that open sockets (PostgreSQL,
// the S3 endpoint). Private to this folder.

/**
 * What `code` (a Node socket error code) means, naming `server` (who should be listening);
 * undefined for a code without plain words.
 */
export function socketWords(code: unknown, server: string): string | undefined {
  switch (code) {
    case "ECONNREFUSED":
      // In brackets: a fix may follow ("…; check RUSTFS_ENDPOINT"), and "?;" read badly.
      return `connection refused (ECONNREFUSED): nothing listens on that port (is ${server} running there?)`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host name is not known (${code})`;
    case "EPERM":
      // Deno's refusal of a host outside --allow-net, at its lookup (a compiled binary's list).
      return `the permission set does not allow this host (EPERM): a binary from deno task ` +
        `compile may reach only the hosts configured when it was built; build it again with ` +
        `this configuration loaded`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `no route to the host (${code})`;
    default:
      return undefined;
  }
}
