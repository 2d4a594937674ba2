import assert from "node:assert/strict";
import { loadConfig } from "../app/config.ts";
import { checkGeocoder } from "./_doctor_checks.ts";

const config = (env: Record<string, string>) => loadConfig((name) => env[name]);

Deno.test("checkGeocoder() warns of .env.example's placeholder key, copied and not replaced", () => {
  const placeholder = checkGeocoder(config({ GEOCODER_API_KEY: "CHANGE_ME" }));
  assert.equal(placeholder.result, "warn");
  assert.match(placeholder.detail, /GEOCODER_API_KEY is still \.env\.example's placeholder/);
  assert.equal(checkGeocoder(config({ GEOCODER_API_KEY: "pk.1234" })).result, "ok");
  assert.equal(checkGeocoder(config({})).result, "warn"); // no key for LocationIQ
});
