import assert from "node:assert/strict";
import { createLocationIqGeocoder } from "./locationiq_geocoder.ts";

/** A geocoder whose base URL answers `status` with `body` (content type `type`). */
function answering(status: number, body: string, type: string) {
  return createLocationIqGeocoder({
    baseUrl: "https://geo.example.test",
    apiKey: "pk.test",
    maxAttempts: 1,
    fetch: () => Promise.resolve(new Response(body, { status, headers: { "Content-Type": type } })),
  });
}

const QUERY = { text: "Sarit Centre, Westlands, Nairobi", countryCodes: ["ke"] };

Deno.test("a base URL that answers a web page is named as one, not printed as markup", async () => {
  const page = `<!DOCTYPE HTML>\n<html lang="en">\n<head><title>Error response</title></head>\n` +
    `<body><h1>Error response</h1><p>Error code: 404</p></body></html>\n`;
  const error = await answering(404, page, "text/html").search(QUERY).then(
    () => assert.fail("answered"),
    (e: Error) => e,
  );
  // Before: "…answered HTTP 404: <!DOCTYPE HTML>\n<html lang="en">…</h", across lines.
  assert.match(
    error.message,
    /answered HTTP 404: an HTML page \("Error response"\), not the geocoder's JSON/,
  );
  assert.doesNotMatch(error.message, /[<\n]/);
});

Deno.test("a plain-text error body is one line of at most 120 characters", async () => {
  const error = await answering(500, "Internal\nServer   Error\n" + "x".repeat(500), "text/plain")
    .search(QUERY).then(() => assert.fail("answered"), (e: Error) => e);
  assert.match(error.message, /answered HTTP 500: Internal Server Error x+/);
  assert.doesNotMatch(error.message, /\n/);
});
