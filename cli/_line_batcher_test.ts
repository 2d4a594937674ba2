import assert from "node:assert/strict";
import { lineBatcher } from "./_line_batcher.ts";

Deno.test("lines pushed together are written in one write, in order, after the delay", async () => {
  const writes: string[] = [];
  const lines = lineBatcher((text) => writes.push(text), { delayMs: 5 });
  lines.push("a");
  lines.push("b");
  assert.deepEqual(writes, []);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(writes, ["a\nb\n"]);
});

Deno.test("a full batch is written at once, and flush() writes what is held", () => {
  const writes: string[] = [];
  const lines = lineBatcher((text) => writes.push(text), { delayMs: 60_000, maxLines: 2 });
  lines.push("a");
  lines.push("b");
  lines.push("c");
  assert.deepEqual(writes, ["a\nb\n"]);
  lines.flush();
  assert.deepEqual(writes, ["a\nb\n", "c\n"]);
  lines.flush();
  assert.equal(writes.length, 2);
});
