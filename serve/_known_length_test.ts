import assert from "node:assert/strict";
import { withKnownLength } from "./_known_length.ts";

/** A streamed body of `chunks`; `cancelled` resolves with the reason when its reader cancels. */
function streamed(chunks: string[]) {
  let cancelled!: (reason: unknown) => void;
  const reason = new Promise((resolve) => cancelled = resolve);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk === undefined) controller.close();
      else controller.enqueue(encoder.encode(chunk));
    },
    cancel: (why) => cancelled(why),
  });
  return { response: new Response(body, { headers: { "Content-Type": "text/csv" } }), reason };
}

Deno.test("withKnownLength() gives a body that ends within the bound its Content-Length", async () => {
  const { response } = streamed(["a,b\r\n", "1,2\r\n"]);
  const known = await withKnownLength(response, 1024);
  assert.equal(known.headers.get("Content-Length"), "10");
  assert.equal(known.headers.get("Content-Type"), "text/csv");
  assert.equal(await known.text(), "a,b\r\n1,2\r\n");
});

Deno.test("withKnownLength() passes a longer body on whole, as a stream a reader can cancel", async () => {
  const line = "x".repeat(600);
  const long = streamed([line, line, line]);
  const passed = await withKnownLength(long.response, 1024);
  assert.equal(passed.headers.get("Content-Length"), null);
  assert.equal(await passed.text(), line.repeat(3));
  const cut = streamed([line, line, line, line]);
  const reader = (await withKnownLength(cut.response, 1024)).body!.getReader();
  await reader.read();
  await reader.cancel("gone");
  assert.equal(await cut.reason, "gone");
});

Deno.test("withKnownLength() leaves a response with a length or no body as it is", async () => {
  const sized = new Response("abc", { headers: { "Content-Length": "3" } });
  assert.equal(await withKnownLength(sized, 1024), sized);
  const empty = new Response(null, { status: 304 });
  assert.equal(await withKnownLength(empty, 1024), empty);
});
