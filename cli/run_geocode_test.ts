import assert from "node:assert/strict";
import { loadConfig } from "../app/config.ts";
import type { Context } from "./_context.ts";
import type { GeocodeReport } from "../core/geocode.ts";
import { progressLine, runGeocode } from "./run_geocode.ts";

Deno.test("runGeocode() lets go of its signal watch when the database cannot be opened", async () => {
  const vars: Record<string, string> = { PGLITE_DIR: ".data/test-geocode-no-database" };
  let watching = 0;
  const context: Context = {
    config: loadConfig((name) => vars[name]),
    redact: (text) => text,
    out: () => {},
    io: {
      env: (name) => vars[name],
      stdout: () => {},
      stderr: () => {},
      terminal: { stdout: false, stderr: false },
      onSignal: () => {
        watching++;
        return () => watching--;
      },
    },
  };
  await assert.rejects(runGeocode(context, ["--clusters"]), /test-geocode-no-database/);
  assert.equal(watching, 0);
});

Deno.test("progressLine() says how far geocode is every 5 s on a terminal, every minute in a log", () => {
  for (const [terminal, everyMs] of [[true, 5_000], [false, 60_000]] as const) {
    const lines: string[] = [];
    let clock = 0;
    const tell = progressLine(
      { terminal: { stdout: terminal, stderr: terminal }, stderr: (text) => lines.push(text) },
      (text) => text,
      undefined,
      () => clock,
    );
    const report = { mode: "locations", calls: 0, toLookUp: 300, hits: 0, misses: 0, rejected: 0 };
    for (let call = 1; call <= 3; call++) {
      clock += everyMs / 2;
      tell({ ...report, calls: call, hits: call } as unknown as GeocodeReport);
    }
    // Before: nothing until the mode ended.
    assert.deepEqual(lines, [
      "locations: 2 of 300 looked up so far (2 hits, 0 misses, 0 rejected)\n",
    ]);
  }
});

Deno.test("progressLine() names the budget when it stops the run before every place", () => {
  const lines: string[] = [];
  let clock = 0;
  const tell = progressLine(
    { terminal: { stdout: true, stderr: true }, stderr: (text) => lines.push(text) },
    (text) => text,
    25,
    () => clock,
  );
  clock = 6_000;
  const report = { mode: "locations", calls: 11, toLookUp: 52, hits: 9, misses: 1, rejected: 1 };
  tell(report as unknown as GeocodeReport);
  // Before: "11 of 52", though the run stops at 25.
  assert.deepEqual(lines, [
    "locations: 11 of 52 looked up so far, 25 at most this run (the budget) (9 hits, 1 misses, 1 rejected)\n",
  ]);
});
