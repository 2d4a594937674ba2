import assert from "node:assert/strict";
import { loadConfig } from "../app/config.ts";
import { parseChangeKey } from "../core/change_key.ts";
import { checkEnvFileLoaded, checkGeocoder, clockAgainst } from "./_doctor_checks.ts";

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

Deno.test("checkEnvFileLoaded() warns of a .env setting DATABASE_URL that the environment lacks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/.env`;
    await Deno.writeTextFile(file, "# prod\nDATABASE_URL=postgres://fleet:pw@db.internal/fleet\n");
    const told = await checkEnvFileLoaded(config({}), file);
    assert.equal(told?.result, "warn");
    assert.match(
      told!.detail,
      /sets DATABASE_URL but the environment has none: the commands use the embedded database ".data\/pglite"/,
    );
    assert.ok(!told!.detail.includes("pw"), "no secret");
    // Loaded, or a .env without one (the embedded default on purpose): nothing to say.
    assert.equal(
      await checkEnvFileLoaded(config({ DATABASE_URL: "postgres://x@h/db" }), file),
      undefined,
    );
    await Deno.writeTextFile(file, "DATABASE_URL=\n# DATABASE_URL=postgres://x@h/db\n");
    assert.equal(await checkEnvFileLoaded(config({}), file), undefined);
    assert.equal(await checkEnvFileLoaded(config({}), `${dir}/missing.env`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
