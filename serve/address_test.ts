import assert from "node:assert/strict";
import { hostPort, isLoopback } from "./address.ts";

Deno.test("hostPort puts an IPv6 host in brackets", () => {
  assert.equal(hostPort("127.0.0.1", 8080), "127.0.0.1:8080");
  assert.equal(hostPort("::", 8080), "[::]:8080");
});

Deno.test("isLoopback: this machine only in every spelling; any other address is open", () => {
  for (
    const host of [
      "127.0.0.1",
      "127.1.2.3",
      "localhost",
      "LOCALHOST",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "::0:1",
      // Before: the IPv4-mapped loopback was taken for an open address (a warning for nothing).
      "::ffff:127.0.0.1",
      "0:0:0:0:0:ffff:127.0.0.1",
    ]
  ) assert.equal(isLoopback(host), true, host);
  for (
    const host of [
      "0.0.0.0",
      "::",
      "10.0.0.5",
      "::ffff:10.0.0.5",
      "::2",
      "1::1",
      "128.0.0.1",
      "localhost.example.com",
      "0:0:0:0:0:0:0:0:1",
    ]
  ) assert.equal(isLoopback(host), false, host);
});
