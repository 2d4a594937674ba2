/**
 * One file with HTTP Range support (single ranges): `/tiles.pmtiles`, whose clients read a few
 * kilobytes at a time. 206 with Content-Range, 416 when the range is outside the file; the whole
 * file (200) for a Range it does not serve (another unit, several ranges, a malformed one, an
 * If-Range naming an older file), as RFC 9110 14.2 lets a server; 304 for a matching
 * If-None-Match.
 *
 * @module
 */

import { anyTag, namesTag } from "./_if_none_match.ts";
import { problemResponse } from "./problem.ts";

/**
 * Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against a size (the unit in any case); null when
 * unsatisfiable; `"whole"` for a Range served as the whole file: another unit, several ranges,
 * or no position at all (before: 416 for all three).
 */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | null | "whole" {
  const unit = /^bytes=(.*)$/i.exec(header.trim());
  if (unit === null || unit[1]!.includes(",")) return "whole";
  const m = /^\s*(\d*)-(\d*)\s*$/.exec(unit[1]!);
  if (m === null || (m[1] === "" && m[2] === "")) return "whole";
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
  conditions: { ifNoneMatch?: string; ifRange?: string } = {},
): Promise<Response> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return problemResponse(404, "The tiles file is not available");
  }
  const { size, mtime } = await file.stat();
  const headers = fileHeaders(contentType, size, mtime);
  if (anyTag(conditions.ifNoneMatch) || namesTag(conditions.ifNoneMatch, headers.ETag!)) {
    file.close();
    return new Response(null, {
      status: 304,
      headers: { ETag: headers.ETag!, "Cache-Control": "no-cache" },
    });
  }
  const r = wantedRange(range, conditions.ifRange, headers.ETag!, size);
  if (r === "whole") {
    return new Response(file.readable, {
      headers: { ...headers, "Content-Length": String(size) },
    });
  }
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

/** The range to send: none (`"whole"`) for a Range about another version of the file (If-Range). */
function wantedRange(
  range: string | undefined,
  ifRange: string | undefined,
  etag: string,
  size: number,
): ReturnType<typeof parseRange> {
  if (range === undefined || (ifRange !== undefined && ifRange.trim() !== etag)) return "whole";
  return parseRange(range, size);
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
