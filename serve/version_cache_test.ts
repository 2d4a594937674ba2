import assert from "node:assert/strict";
import { VersionCache } from "./version_cache.ts";

function clock() {
  const c = { ms: 0, now: () => c.ms };
  return c;
}

Deno.test("a version read is remembered until it is ttlMs old", () => {
  const c = clock();
  const cache = new VersionCache(1000, c.now);
  assert.equal(cache.fresh(), undefined);
  cache.store(cache.begin(), "v1");
  c.ms = 999;
  assert.equal(cache.fresh(), "v1");
  c.ms = 1000;
  assert.equal(cache.fresh(), undefined);
});

Deno.test("the age counts from when the read began, not when it was stored", () => {
  const c = clock();
  const cache = new VersionCache(1000, c.now);
  const start = cache.begin();
  c.ms = 600;
  cache.store(start, "v1");
  c.ms = 1000;
  assert.equal(cache.fresh(), undefined);
});

Deno.test("a change notified while a version was being read discards that read", () => {
  const cache = new VersionCache(60_000, clock().now);
  const start = cache.begin();
  cache.invalidate();
  cache.store(start, "read before the change");
  assert.equal(cache.fresh(), undefined);
  cache.store(cache.begin(), "v2");
  assert.equal(cache.fresh(), "v2");
  cache.invalidate();
  assert.equal(cache.fresh(), undefined);
});

Deno.test("a read that began earlier never replaces a younger one", () => {
  const c = clock();
  const cache = new VersionCache(60_000, c.now);
  const older = cache.begin();
  c.ms = 10;
  cache.store(cache.begin(), "v2");
  cache.store(older, "v1");
  assert.equal(cache.fresh(), "v2");
});

Deno.test("a ttlMs of 0 remembers nothing", () => {
  const cache = new VersionCache(0, clock().now);
  cache.store(cache.begin(), "v1");
  assert.equal(cache.fresh(), undefined);
});

Deno.test("invalidated() settles at the next change", async () => {
  const cache = new VersionCache(1000, clock().now);
  let settled = false;
  const next = cache.invalidated().then(() => settled = true);
  await Promise.resolve();
  assert.equal(settled, false);
  cache.invalidate();
  await next;
  assert.equal(settled, true);
});

Deno.test("refresh() shares one read among concurrent callers and remembers its token", async () => {
  const cache = new VersionCache(1000, clock().now);
  let reads = 0;
  let finish!: (token: string) => void;
  const read = () => {
    reads++;
    return new Promise<string>((resolve) => finish = resolve);
  };
  const both = Promise.all([cache.refresh(read), cache.refresh(read)]);
  finish("v1");
  assert.deepEqual(await both, ["v1", "v1"]);
  assert.equal(reads, 1);
  assert.equal(await cache.refresh(read), "v1");
  assert.equal(reads, 1);
});

Deno.test("refresh() gives nothing when a change was notified meanwhile, or the read failed", async () => {
  const cache = new VersionCache(1000, clock().now);
  let finish!: (token: string) => void;
  const pending = cache.refresh(() => new Promise<string>((resolve) => finish = resolve));
  cache.invalidate();
  finish("read before the change");
  assert.equal(await pending, undefined);
  assert.equal(cache.fresh(), undefined);
  assert.equal(await cache.refresh(() => Promise.reject(new Error("down"))), undefined);
  assert.equal(await cache.refresh(() => Promise.resolve("v2")), "v2");
});
