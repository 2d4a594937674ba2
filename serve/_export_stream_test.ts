import assert from "node:assert/strict";
import { exportStream } from "./_export_stream.ts";

Deno.test("an export stream counts the rows the reader has taken, not those queued", async () => {
  const stream = exportStream();
  stream.write("h\r\n", 0);
  stream.write("a\r\nb\r\n", 2);
  stream.write("c\r\n", 1);
  stream.close();
  assert.equal(stream.rows, 3);
  assert.equal(stream.sent, 0);
  const reader = stream.body.getReader();
  await reader.read();
  await reader.read();
  assert.equal(stream.sent, 2);
  assert.equal((await reader.read()).done, false);
  assert.equal((await reader.read()).done, true);
  assert.equal(await stream.delivered, 3);
});

Deno.test("a cut ends a stream the client has not finished, even one whose rows are all read", async () => {
  const cut = new AbortController();
  const stream = exportStream(cut.signal);
  stream.write("h\r\n", 0);
  stream.write("a\r\n", 1);
  stream.write("b\r\n", 1);
  stream.close();
  const reader = stream.body.getReader();
  await reader.read();
  await reader.read();
  cut.abort(new Error("the server stopped 8 s after the stop signal"));
  await assert.rejects(reader.read(), /the server stopped/);
  const reason = await stream.delivered.then(() => undefined, (error) => error);
  assert.match(String(reason), /the server stopped/);
  assert.equal(reason.rowsSent, 1);
  assert.ok(stream.signal.aborted, "the database read stops too");
});

Deno.test("a cut stops an export still reading: its next write throws", () => {
  const cut = new AbortController();
  const stream = exportStream(cut.signal);
  stream.write("h\r\n", 0);
  cut.abort(new Error("cut"));
  assert.throws(() => stream.write("a\r\n", 1), /cut/);
});

Deno.test("one cut ending two exports reports each one's rows sent, not the last one's", async () => {
  const cut = new AbortController();
  const streams = [exportStream(cut.signal), exportStream(cut.signal)];
  const taken = [1, 3];
  for (const [i, stream] of streams.entries()) {
    for (let row = 0; row < 5; row++) stream.write(`${row}\r\n`, 1);
    const reader = stream.body.getReader();
    for (let n = 0; n < taken[i]!; n++) await reader.read();
  }
  // The shared reason was given each stream's count in turn: both said 3.
  cut.abort(new Error("the server stopped 8 s after the stop signal"));
  const reasons = await Promise.all(streams.map((s) => s.delivered.then(() => 0, (e) => e)));
  assert.deepEqual(reasons.map((r) => r.rowsSent), [1, 3]);
  assert.deepEqual(reasons.map((r) => r.message), [
    "the server stopped 8 s after the stop signal",
    "the server stopped 8 s after the stop signal",
  ]);
});

Deno.test("a paced export cuts a client that stops taking its rows, not one waiting for a slow database", async () => {
  // A least rate far above these few bytes: the grace alone decides.
  const pace = { stallMs: 50, minBytesPerSecond: 1e9 };
  const slowDatabase = exportStream(undefined, pace);
  const reading = (async () => {
    const reader = slowDatabase.body.getReader();
    while (!(await reader.read()).done) { /* a client that takes each batch at once */ }
  })();
  slowDatabase.write("h\r\n", 0);
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 80)); // a fetch slower than stallMs
    slowDatabase.write("a\r\n", 1);
  }
  slowDatabase.close();
  await reading;
  assert.equal(await slowDatabase.delivered, 3);

  const stalled = exportStream(undefined, pace);
  stalled.write("h\r\n", 0);
  stalled.write("a\r\n", 1);
  const reader = stalled.body.getReader();
  await reader.read(); // takes the header, then nothing more
  await reader.read();
  const reason = await stalled.delivered.then(() => undefined, (error) => error);
  assert.match(String(reason), /the client fell behind after 1 row was sent .*: too slow/);
  assert.ok(stalled.signal.aborted, "the database read stops too");
});

Deno.test("a client whose read waited while this process was held is not cut for it: the late deadline lets its read go first", async () => {
  const stream = exportStream(undefined, { stallMs: 50, minBytesPerSecond: 1e12 });
  stream.write("h\r\n", 0);
  const reader = stream.body.getReader();
  await reader.read(); // handed over: cut ~50 ms from now unless taken
  // The client asks again 60 ms on; the process is held for 300 ms before either timer runs.
  const next = new Promise((resolve) => setTimeout(() => resolve(reader.read()), 60));
  const held = performance.now() + 300;
  while (performance.now() < held) { /* a long synchronous step */ }
  await new Promise((resolve) => setTimeout(resolve, 20));
  stream.write("a\r\n", 1);
  stream.close();
  await next;
  // Before: the overdue deadline ran first and cut a client that was reading.
  assert.equal((await reader.read()).done, true);
  assert.equal(await stream.delivered, 1);
});

Deno.test("a paced export judges the client's average: one batch taken late after fast ones is no cut, a client behind on average is", async () => {
  // 10 KB batches; the least rate 100 KB/s allows 100 ms a batch, after a 100 ms grace.
  const pace = { stallMs: 100, minBytesPerSecond: 100_000 };
  const batch = "x".repeat(10_000 - 2) + "\r\n";
  const run = async (waitsMs: number[]) => {
    const stream = exportStream(undefined, pace);
    for (let i = 0; i < waitsMs.length; i++) stream.write(batch, 1);
    stream.close();
    const reader = stream.body.getReader();
    for (const wait of [...waitsMs, 0]) {
      if ((await reader.read().catch(() => undefined)) === undefined) break; // cut
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    return await stream.delivered.then((rows) => rows, (error) => String(error));
  };
  // Five taken at once, then one held 300 ms (over the grace: a per-batch rule cut it): 700 ms
  // allowed by then, 300 taken.
  assert.equal(await run([0, 0, 0, 0, 0, 300]), 6);
  // Behind on average: 250 ms a batch where 100 are allowed; cut once the grace is spent.
  assert.match(String(await run([250, 250, 250, 250, 250, 250])), /the client fell behind/);
});
