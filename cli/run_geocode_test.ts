import assert from "node:assert/strict";
import { loadConfig } from "../app/config.ts";
import type { Context } from "./_context.ts";
import { runGeocode } from "./run_geocode.ts";

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
