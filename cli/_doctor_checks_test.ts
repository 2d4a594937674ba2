import assert from "node:assert/strict";
import { loadConfig } from "../app/config.ts";
import { parseChangeKey } from "../core/change_key.ts";
import { checkGeocoder, clockAgainst } from "./_doctor_checks.ts";

const config = (env: Record<string, string>) => loadConfig((name) => env[name]);

Deno.test("checkGeocoder() warns of .env.example's placeholder key, copied and not replaced", () => {
  const placeholder = checkGeocoder(config({ GEOCODER_API_KEY: "CHANGE_ME" }));
  assert.equal(placeholder.result, "warn");
  assert.match(placeholder.detail, /GEOCODER_API_KEY is still \.env\.example's placeholder/);
  assert.equal(checkGeocoder(config({ GEOCODER_API_KEY: "pk.1234" })).result, "ok");
  assert.equal(checkGeocoder(config({})).result, "warn"); // no key for LocationIQ
});

Deno.test("clockAgainst(): a change file named ahead within ingest's 60 min is a warning naming both clocks; beyond, a failure", () => {
  const now = new Date("2026-11-29T20:35:58Z");
  const key = (name: string) => parseChangeKey(name, "")!;
  // A tester: ingest applied a file named 20 min ahead, then doctor failed "set the machine clock".
  const ahead = clockAgainst(key("2026-11-29T23-55-55.csv"), now);
  assert.equal(ahead.result, "warn");
  assert.match(ahead.detail, /named 20 min ahead of it \(ingest accepts up to 60 min\)/);
  assert.match(ahead.remedy!, /the export's clock or this machine's is off/);
  assert.equal(clockAgainst(key("2026-11-29T23-40-00.csv"), now).result, "ok"); // 4 min
  assert.equal(clockAgainst(key("2026-11-30T00-40-00.csv"), now).result, "fail"); // 64 min
  assert.equal(clockAgainst(undefined, now).result, "ok");
});
