// A body's length, found by reading up to a bound, for the gzip threshold. Private to serve/.

/**
 * `response` with a Content-Length when its body (of unknown length: `c.json()`, a file, a
 * stream) ends within `bytes`: Hono's compress middleware compresses whatever has none. A
 * longer body goes on as a stream, its first bytes read ahead (a reader that goes away still
 * cancels it).
 */
export async function withKnownLength(response: Response, bytes: number): Promise<Response> {
  if (response.body === null || response.headers.has("Content-Length")) return response;
  const reader = response.body.getReader();
  const head: Uint8Array[] = [];
  let size = 0;
  while (size < bytes) {
    const { done, value } = await reader.read();
    if (done) {
      const whole = new Response(new Blob(head as BlobPart[]), response);
      whole.headers.set("Content-Length", String(size));
      return whole;
    }
    head.push(value);
    size += value.byteLength;
  }
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => head.forEach((chunk) => controller.enqueue(chunk)),
    pull: async (controller) => {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, response);
}
