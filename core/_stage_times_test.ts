import assert from "node:assert/strict";
import { parseChangeFile } from "./parse_change_file.ts";
import { stageParts, StageTimes } from "./_stage_times.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const LINES = 500;

/** A change file in `pieces` chunks of LINES records, each read taking `readMs`. */
function slowFile(pieces: number, readMs: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await sleep(readMs);
      if (sent === pieces) return controller.close();
      const lines = Array.from({ length: LINES }, (_, i) => `T${sent}_${i},nairobi\n`);
      controller.enqueue(
        encoder.encode((sent++ === 0 ? "ticket_id,region\n" : "") + lines.join("")),
      );
    },
  }, { highWaterMark: 0 });
}

/**
 * Stages the file as the JavaScript way does (the change-file parser, whose streams read ahead,
 * then batches of LINES rows), the database taking `copyMs` for each batch.
 */
async function stage(readMs: number, copyMs: number, pieces = 8) {
  const times = new StageTimes();
  const started = performance.now();
  async function* batches() {
    let batch = 0;
    for await (
      const _ of parseChangeFile(times.timedBody(slowFile(pieces, readMs)), { key: "x" })
    ) {
      if (++batch === LINES) {
        yield batch;
        batch = 0;
      }
    }
    yield batch;
  }
  for await (const _ of times.timedItems(batches())) await sleep(copyMs);
  const stageMs = performance.now() - started;
  return { ...stageParts(stageMs, times), stageMs, rawParseMs: times.parseMs };
}

Deno.test("StageTimes: a read made ahead while the database takes a batch is COPY time, not download", async () => {
  // Reads of 30 ms, the database busy 60 ms a batch: the parser's streams read during the COPY.
  const parts = await stage(30, 60);
  // Before: every read counted, 8 × 30 ms of download while the COPY was what took the time.
  assert.ok(parts.downloadMs < 4 * 30, `download ${parts.downloadMs} ms`);
  assert.ok(parts.copyMs >= 0.8 * 8 * 60, `COPY ${parts.copyMs} ms of ${8 * 60} slept`);
  assert.ok(parts.rawParseMs >= 0, `parse ${parts.rawParseMs} ms`);
});

Deno.test("StageTimes: a slow store is download, a read begun during the COPY counted from when the parser asks", async () => {
  // Reads of 60 ms, the database busy 20 ms a batch: the parser waits ~40 ms a chunk for bytes.
  const parts = await stage(60, 20);
  assert.ok(parts.downloadMs >= 8 * 30, `download ${parts.downloadMs} ms`);
  assert.ok(parts.downloadMs <= parts.stageMs - 8 * 20 * 0.8, `download ${parts.downloadMs} ms`);
  // Before: a read begun during the COPY was subtracted whole from the next wait (-181 ms seen).
  assert.ok(parts.rawParseMs >= 0, `parse ${parts.rawParseMs} ms`);
  const sum = parts.downloadMs + parts.parseMs + parts.copyMs;
  assert.ok(Math.abs(sum - parts.stageMs) < 0.3, `${sum} ms in parts of ${parts.stageMs}`);
});

Deno.test("StageTimes: before items are timed (opening the object, the database's way) a read counts whole", async () => {
  const times = new StageTimes();
  await times.download(sleep(40));
  assert.ok(times.downloadMs >= 39, `download ${times.downloadMs} ms`);
  times.parse(() => {
    const until = performance.now() + 15;
    while (performance.now() < until) { /* work */ }
  });
  assert.ok(times.parseMs >= 15, `parse ${times.parseMs} ms`);
  const { copyMs } = stageParts(100, times);
  assert.ok(Math.abs(copyMs - (100 - times.downloadMs - times.parseMs)) <= 0.15, `COPY ${copyMs}`);
});
