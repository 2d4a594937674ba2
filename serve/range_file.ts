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
  const headers: Record<string, string> = {
    "Content-Type": contentType,
    "Accept-Ranges": "bytes",
    ETag: `"${size.toString(16)}-${(mtime?.getTime() ?? 0).toString(16)}"`,
    "Cache-Control": "no-cache",
  };
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
  let left = r.end - r.start + 1;
  const body = file.readable.pipeThrough(
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
  return new Response(body, {
    status: 206,
    headers: {
      ...headers,
      "Content-Length": String(r.end - r.start + 1),
      "Content-Range": `bytes ${r.start}-${r.end}/${size}`,
    },
  });
}
