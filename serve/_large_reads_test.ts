// The slots of large reads: how many at once, the queue and its wait, and a large body that keeps
// its slot until its client has taken it, left, or stalled.

import assert from "node:assert/strict";
import { heldBody, LargeReads, type Refusal, type Slot } from "./_large_reads.ts";

const isSlot = (x: Slot | Refusal): x is Slot => "release" in x;

Deno.test("LargeReads gives its slots at once, queues the next in turn, and refuses past the queue or the wait", async () => {
  const reads = new LargeReads({ slots: 2, queue: 1, waitMs: 50 });
  const a = await reads.acquire();
  const b = await reads.acquire();
  assert.ok(isSlot(a) && isSlot(b));
  const c = reads.acquire(); // waits
  assert.deepEqual(await reads.acquire(), { refused: "queue full" });
  assert.deepEqual([reads.busy, reads.waiting], [2, 1]);
  a.release();
  a.release(); // twice frees it once
  const third = await c;
  assert.ok(isSlot(third));
  assert.deepEqual([reads.busy, reads.waiting], [2, 0]);
  assert.deepEqual(await reads.acquire(), { refused: "waited" }); // after 50 ms
  b.release();
  third.release();
  assert.deepEqual([reads.busy, reads.waiting], [0, 0]);
});

Deno.test("a queued read whose client leaves gives its place to the next, and is never built", async () => {
  const reads = new LargeReads({ slots: 1, queue: 2, waitMs: 60_000 });
  const first = await reads.acquire();
  assert.ok(isSlot(first));
  const client = new AbortController();
  const left = reads.acquire(client.signal); // waits
  const next = reads.acquire(); // waits behind it
  assert.equal(reads.waiting, 2);
  client.abort(); // its client closed the connection
  assert.deepEqual(await left, { refused: "gone" });
  assert.equal(reads.waiting, 1);
  first.release(); // before: handed to the read whose client had left
  const slot = await next;
  assert.ok(isSlot(slot));
  slot.release();
  assert.deepEqual([reads.busy, reads.waiting], [0, 0]);
  assert.deepEqual(await reads.acquire(client.signal), { refused: "gone" }); // left before asking
});

const LIMITS = { stallMs: 60_000, minBytesPerSecond: 1 };

function counted() {
  let released = 0;
  return { slot: { release: () => void released++ }, released: () => released };
}

Deno.test("a held body frees its slot once its client has taken the last byte", async () => {
  const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
  const held = counted();
  const body = heldBody(bytes, held.slot, LIMITS);
  const reader = body.getReader();
  await reader.read();
  assert.equal(held.released(), 0, "held while the client reads");
  const rest = new Uint8Array(
    await new Response(
      new ReadableStream({
        pull: async (c) => {
          const { done, value } = await reader.read();
          if (done) c.close();
          else c.enqueue(value);
        },
      }),
    ).arrayBuffer(),
  );
  assert.equal(rest.byteLength, bytes.byteLength - 65536);
  assert.equal(held.released(), 1);
});

Deno.test("a held body frees its slot when the client leaves", async () => {
  const held = counted();
  const body = heldBody(new Uint8Array(200_000), held.slot, LIMITS);
  await body.cancel();
  assert.equal(held.released(), 1);
});

Deno.test("a held body whose client takes nothing for stallMs is cut, and its slot freed", async () => {
  const held = counted();
  const body = heldBody(new Uint8Array(200_000), held.slot, { ...LIMITS, stallMs: 50 });
  const reader = body.getReader();
  await reader.read(); // then nothing
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(held.released(), 1);
  await assert.rejects(
    reader.read(),
    // The rule that fired (before: "too slow (it must take some every … s, … KiB/s on average)").
    /^Error: the client took nothing for 0\.05 s \(it had taken 65536 of 200000 bytes in 0 s\)$/,
  );
});

Deno.test("a held body is cut when the server stops", async () => {
  const held = counted();
  const cut = new AbortController();
  const body = heldBody(new Uint8Array(200_000), held.slot, LIMITS, cut.signal);
  const reader = body.getReader();
  cut.abort(new Error("the server stopped 8 s after the stop signal"));
  assert.equal(held.released(), 1);
  await assert.rejects(reader.read(), /the server stopped/);
});

Deno.test("a held body whose client takes too little on average after its first stallMs is cut, saying so", async () => {
  const held = counted();
  // 64 MiB/s at least after 1 s: the third chunk is due ~1.003 s in, before the stall at ~1.3 s.
  const body = heldBody(new Uint8Array(400_000), held.slot, {
    stallMs: 1000,
    minBytesPerSecond: 64 * 1024 * 1024,
  });
  const reader = body.getReader();
  await reader.read();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await reader.read(); // within the stall time, but behind the pace
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await assert.rejects(
    reader.read(),
    /^Error: the client took 131072 of 400000 bytes in \d+ s: slower than 65536 KiB\/s on average after its first 1 s$/,
  );
  assert.equal(held.released(), 1);
});
