import assert from "node:assert/strict";
import { configSecrets, loadConfig } from "./config.ts";
import { createRedactor } from "./redact.ts";

Deno.test("createRedactor() replaces every occurrence of each secret", () => {
  const redact = createRedactor(["rustfs-secret", "pk.0123456789"]);
  assert.equal(
    redact("S3 said rustfs-secret is wrong; geocoder key pk.0123456789; again rustfs-secret"),
    "S3 said *** is wrong; geocoder key ***; again ***",
  );
});

Deno.test("createRedactor() replaces the URL-encoded form of a secret too", () => {
  const redact = createRedactor(["p@ss/word+1"]);
  assert.equal(redact("raw p@ss/word+1, encoded p%40ss%2Fword%2B1"), "raw ***, encoded ***");
});

Deno.test("createRedactor() hides the password of any URL, known or not", () => {
  const redact = createRedactor([]);
  assert.equal(
    redact("connect to postgres://tickets:unknown-pass@db.internal:5432/fleet failed"),
    "connect to postgres://tickets:***@db.internal:5432/fleet failed",
  );
  assert.equal(
    redact("proxy http://user:pw@proxy:3128 and https://x:y@s3.example"),
    "proxy http://user:***@proxy:3128 and https://x:***@s3.example",
  );
});

Deno.test("createRedactor() leaves URLs without a password alone", () => {
  const redact = createRedactor([]);
  for (
    const text of [
      "postgres://tickets@db.internal:5432/fleet",
      "http://127.0.0.1:9000/isptickets",
      "postgres://db.internal/fleet",
    ]
  ) {
    assert.equal(redact(text), text);
  }
});

Deno.test("createRedactor() replaces a longer secret before a shorter one inside it", () => {
  const redact = createRedactor(["secret", "secret-and-more"]);
  assert.equal(redact("a secret-and-more b secret"), "a *** b ***");
});

Deno.test("createRedactor() ignores missing secrets and ones shorter than 4 characters", () => {
  const redact = createRedactor([undefined, "", "abc", "abcd"]);
  assert.equal(redact("abc abcd"), "abc ***");
});

Deno.test("createRedactor() leaves text without secrets unchanged", () => {
  const redact = createRedactor(["rustfs-secret"]);
  const text = 'Cannot apply change file "automations/inc/changes/x.csv": line 4 has 31 fields';
  assert.equal(redact(text), text);
});

Deno.test("createRedactor() over configSecrets() hides every secret of the configuration", () => {
  const config = loadConfig((name) =>
    ({
      DATABASE_URL: "postgres://tickets:db%2Fpass@db:5432/fleet",
      RUSTFS_SECRET_KEY: "rustfs-secret",
      GEOCODER_API_KEY: "pk.0123456789",
    })[name]
  );
  const redact = createRedactor(configSecrets(config));
  const text = "db/pass db%2Fpass rustfs-secret pk.0123456789 " +
    "postgres://tickets:db%2Fpass@db:5432/fleet https://api.example/?key=pk.0123456789";
  const out = redact(text);
  assert.equal(
    out,
    "*** *** *** *** postgres://tickets:***@db:5432/fleet https://api.example/?key=***",
  );
});
