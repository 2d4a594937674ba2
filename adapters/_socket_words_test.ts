import assert from "node:assert/strict";
import { socketWords } from "./_socket_words.ts";

Deno.test("a host the permission set refuses (EPERM at its lookup) is said as that, with the fix", () => {
  // Before: the bare code, "getaddrinfo EPERM rustfs2.internal" (a compiled binary's list).
  assert.equal(
    socketWords("EPERM", "the S3 server"),
    "the permission set does not allow this host (EPERM): a binary from deno task compile may " +
      "reach only the hosts configured when it was built; build it again with this configuration " +
      "loaded",
  );
  assert.equal(socketWords("EWHATEVER", "PostgreSQL"), undefined);
});
