// If-None-Match (RFC 9110 13.1.2), weak comparison: whether the client names a tag. Private to
// serve/.

/** The client's `If-None-Match` names `etag` (weak comparison: `W/` ignored). `*` is not a name. */
export function namesTag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = etag.replace(/^W\//, "");
  return ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === bare);
}

/** `If-None-Match: *`: true for any representation the resource has, once it is known to exist. */
export function anyTag(ifNoneMatch: string | undefined): boolean {
  return ifNoneMatch?.split(",").some((t) => t.trim() === "*") ?? false;
}
