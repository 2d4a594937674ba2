import assert from "node:assert/strict";
import { watchStalls } from "./_stall_watch.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A watch over `afterMs` of silence whose probe answers `alive` and counts its calls. */
function watched(alive: boolean, afterMs = 40) {
  const seen = { probes: 0, stalls: [] as number[] };
  const watch = watchStalls({
    afterMs,
    probe: () => {
      seen.probes++;
      return Promise.resolve(alive);
    },
    onStall: (silentMs) => seen.stalls.push(silentMs),
  });
  return { watch, seen };
}

Deno.test("a silence with no statement waiting asks the server nothing", async () => {
  const { watch, seen } = watched(false);
  watch.begin()(); // one statement, answered at once
  await sleep(150);
  watch.stop();
  assert.deepEqual(seen, { probes: 0, stalls: [] });
});

Deno.test("a statement that keeps getting answers (COPY chunks taken) is never probed", async () => {
  const { watch, seen } = watched(false, 200);
  const end = watch.begin();
  for (let i = 0; i < 10; i++) {
    await sleep(30); // 300 ms in all, each gap well under 200 ms
    watch.answered();
  }
  end();
  watch.stop();
  assert.deepEqual(seen, { probes: 0, stalls: [] });
});

Deno.test("a long statement on a server that answers a new connection goes on waiting", async () => {
  const { watch, seen } = watched(true);
  const end = watch.begin();
  await sleep(200);
  end();
  watch.stop();
  assert.ok(seen.probes >= 2, `asked ${seen.probes} times in 200 ms of a 40 ms silence`);
  assert.deepEqual(seen.stalls, []);
});

Deno.test("a silent server that answers no new connection either is given up on, once", async () => {
  const { watch, seen } = watched(false);
  const end = watch.begin();
  watch.begin(); // a second statement waiting on the same pool
  await sleep(200);
  end();
  watch.stop();
  assert.equal(seen.probes, 1);
  assert.equal(seen.stalls.length, 1);
  assert.ok(seen.stalls[0]! >= 40, `told ${seen.stalls[0]} ms of silence`);
});

Deno.test("an answer that comes while the server is being asked keeps it, whatever the probe says", async () => {
  // Before: a statement ended and the next began during a slow probe (new logins slow on a
  // loaded server), and the probe's silence still ended a pool that was answering.
  const seen = { probes: 0, stalls: 0 };
  const watch = watchStalls({
    afterMs: 40,
    probe: async () => {
      seen.probes++;
      await sleep(30);
      watch.answered(); // a COPY chunk taken, a statement answered
      return false;
    },
    onStall: () => seen.stalls++,
  });
  const end = watch.begin();
  await sleep(70); // one probe, answered during it
  end();
  watch.stop();
  assert.ok(seen.probes >= 1);
  assert.equal(seen.stalls, 0);
});

Deno.test("stop() ends the watch: a silence after it is never probed", async () => {
  const { watch, seen } = watched(false);
  watch.begin();
  watch.stop();
  await sleep(150);
  assert.deepEqual(seen, { probes: 0, stalls: [] });
});
