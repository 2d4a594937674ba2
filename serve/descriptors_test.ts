// The start-up count of spare file descriptors, and the warning when they are few.

import assert from "node:assert/strict";
import { FEW_DESCRIPTORS, fewDescriptorsWarning, spareDescriptors } from "./descriptors.ts";

Deno.test("spareDescriptors counts up to its bound, and closes what it opened", () => {
  assert.equal(spareDescriptors(50), 50);
  assert.equal(spareDescriptors(50), 50); // nothing left open by the first count
  assert.equal(spareDescriptors(5, "./.data/no-such-folder/"), 5); // cannot tell: no warning
});

Deno.test("fewer spare descriptors than FEW_DESCRIPTORS is a warning naming the fix", () => {
  assert.equal(fewDescriptorsWarning(FEW_DESCRIPTORS), undefined);
  const warning = fewDescriptorsWarning(231);
  assert.equal(warning?.level, "warn");
  assert.equal(warning?.event, "few_descriptors");
  assert.equal(warning?.spare, 231);
  assert.match(
    String(warning?.message),
    /^Serve can hold about 231 connections at once: the limit of open files is low .*LimitNOFILE=.* or put a reverse proxy \(nginx, Caddy\) in front of serve$/,
  );
});
