import assert from "node:assert/strict";
import { anyTag, namesTag } from "./_if_none_match.ts";

Deno.test("namesTag compares weakly among a list; * names no tag, anyTag finds it", () => {
  assert.equal(namesTag('"a", W/"b"', 'W/"b"'), true);
  assert.equal(namesTag('W/"b"', '"b"'), true);
  assert.equal(namesTag('"a"', '"b"'), false);
  assert.equal(namesTag(undefined, '"b"'), false);
  assert.equal(namesTag("*", '"b"'), false);
  assert.equal(anyTag(' "a", * '), true);
  assert.equal(anyTag('"*"'), false);
  assert.equal(anyTag(undefined), false);
});
