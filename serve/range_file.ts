/**
 * One file with HTTP Range support (single ranges): `/tiles.pmtiles`, whose clients read a few
 * kilobytes at a time. 206 with Content-Range, 416 when the range is outside the file.
 *
 * @module
 */

import { problemResponse } from "./problem.ts";

/** Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against a size; null when unsatisfiable. */
export function parseRange(header: string, size: number): { start: number; end: number } | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === "" && m[2] === "")) return null;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (!Number.isSafeInteger(start) || start > end || start >= size) return null;
  return { start, end };
}

/** Answers a GET of `path` with `contentType`, honouring a Range header. */
export async function serveRangeFile(
  path: string,
  contentType: string,
  range: string | undefined,
): Promise<Response> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return problemResponse(404, "The tiles file is not available");
  }
  const { size, mtime } = await file.stat();
  const headers = fileHeaders(contentType, size, mtime);
  if (range === undefined) {
    return new Response(file.readable, {
      headers: { ...headers, "Content-Length": String(size) },
    });
  }
  const r = parseRange(range, size);
  if (r === null) {
    file.close();
    return new Response(null, {
      status: 416,
      headers: { ...headers, "Content-Range": `bytes */${size}` },
    });
  }
  await file.seek(r.start, Deno.SeekMode.Start);
  return new Response(firstBytes(file.readable, r.end - r.start + 1), {
    status: 206,
    headers: {
      ...headers,
      "Content-Length": String(r.end - r.start + 1),
      "Content-Range": `bytes ${r.start}-${r.end}/${size}`,
    },
  });
}

/** The headers of every answer for the file: its type, ranges accepted, an ETag from size and time. */
function fileHeaders(
  contentType: string,
  size: number,
  mtime: Date | null,
): Record<string, string> {
  return {
    "Content-Type": contentType,
    "Accept-Ranges": "bytes",
    ETag: `"${size.toString(16)}-${(mtime?.getTime() ?? 0).toString(16)}"`,
    "Cache-Control": "no-cache",
  };
}

/** The first `count` bytes of a stream, which ends there. */
function firstBytes(stream: ReadableStream<Uint8Array>, count: number): ReadableStream<Uint8Array> {
  let left = count;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (left <= 0) return;
        const part = chunk.subarray(0, left);
        left -= part.byteLength;
        controller.enqueue(part);
        if (left <= 0) controller.terminate();
      },
    }),
  );
}
