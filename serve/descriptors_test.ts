// The start-up count of spare file descriptors, and the warning when they are few.

import assert from "node:assert/strict";
import { FEW_DESCRIPTORS, fewDescriptorsWarning, spareDescriptors } from "./descriptors.ts";

Deno.test("spareDescriptors counts up to its bound, and closes what it opened", () => {
  assert.equal(spareDescriptors(50), 50);
  assert.equal(spareDescriptors(50), 50); // nothing left open by the first count
  assert.equal(spareDescriptors(5, "./.data/no-such-folder/"), 5); // cannot tell: no warning
});

Deno.test("fewer spare descriptors than FEW_DESCRIPTORS is a warning naming the fix", () => {
  assert.equal(fewDescriptorsWarning(0, FEW_DESCRIPTORS), undefined);
  const warning = fewDescriptorsWarning(0, 231);
  assert.equal(warning?.level, "warn");
  assert.equal(warning?.event, "few_descriptors");
  assert.equal(warning?.spare, 231);
  assert.match(
    String(warning?.message),
    /^Serve can hold about 231 connections at once: the limit of open files is low .*LimitNOFILE=.* or put a reverse proxy \(nginx, Caddy\) in front of serve$/,
  );
});

Deno.test("the database's connections still to be opened are not counted as room for clients", () => {
  // Before: 1,005 spare descriptors were no warning, though PostgreSQL's pool takes 10 of them.
  assert.equal(fewDescriptorsWarning(10, FEW_DESCRIPTORS + 10), undefined);
  const warning = fewDescriptorsWarning(10, FEW_DESCRIPTORS + 5);
  assert.equal(warning?.spare, FEW_DESCRIPTORS - 5);
  assert.match(
    String(warning?.message),
    /^Serve can hold about 995 connections at once \(10 more are kept for the database's connections\): the limit/,
  );
  assert.equal(fewDescriptorsWarning(10, 4)?.spare, 0);
});
