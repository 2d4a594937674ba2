import assert from "node:assert/strict";
import { createRedactor } from "./redact.ts";

Deno.test("createRedactor() hides a secret verbatim, URL-encoded by any rule and JSON-escaped", () => {
  const key = "geo~key!(x) 'y'*/\"\\é";
  const redact = createRedactor([key]);
  const forms = [
    key,
    encodeURIComponent(key),
    new URLSearchParams({ key }).toString().slice("key=".length),
    encodeURI(key),
    encodeURIComponent(encodeURIComponent(key)),
    JSON.stringify(key).slice(1, -1),
    JSON.stringify(encodeURIComponent(key)).slice(1, -1),
    Array.from(new TextEncoder().encode(key), (b) => "%" + b.toString(16).padStart(2, "0")).join(
      "",
    ),
    Array.from(key, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join(""),
  ];
  for (const form of forms) {
    assert.equal(
      redact(`GET https://eu1.example/search?key=${form}&q=x failed`),
      "GET https://eu1.example/search?key=***&q=x failed",
      form,
    );
  }
});

Deno.test("createRedactor() hides the geocoder key a provider echoed in its request URL", () => {
  const redact = createRedactor(["geo~key!s3cret"]);
  const url = new URL("https://us1.locationiq.com/v1/search");
  url.searchParams.set("key", "geo~key!s3cret");
  assert.equal(url.search.includes("geo%7Ekey%21s3cret"), true);
  assert.equal(
    redact(`Provider said: invalid request ${url}`),
    "Provider said: invalid request https://us1.locationiq.com/v1/search?key=***",
  );
});

Deno.test("createRedactor() hides URL passwords and leaves other text alone", () => {
  const redact = createRedactor(["p@ss/word", undefined, "abc"]);
  assert.equal(
    redact("postgres://fleet:other@db:5432/x failed; key p@ss/word or p%40ss%2Fword; abc stays"),
    "postgres://fleet:***@db:5432/x failed; key *** or ***; abc stays",
  );
});
