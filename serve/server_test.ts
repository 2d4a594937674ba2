// startServer's wiring of the remembered data version: listening for changes, and going on
// without them (a replica cannot LISTEN) on SERVE_VERSION_TTL alone.

import assert from "node:assert/strict";
import type { Config } from "../app/config.ts";
import type { DataVersion } from "../core/data_version.ts";
import type { Database } from "../core/ports/mod.ts";
import { fakeDatabase } from "./_fake_database.ts";
import { startServer } from "./server.ts";
import { VersionCache } from "./version_cache.ts";

const SETTINGS: Config["serve"] = {
  corsOrigins: [],
  statementTimeoutMs: 5000,
  staleAfterHours: 2,
  versionTtlMs: 1000,
};

function start(
  db: Database,
  lines: Record<string, unknown>[],
  versions?: VersionCache<DataVersion>,
) {
  return startServer({
    db,
    settings: SETTINGS,
    versions,
    webRoot: "./.data/no-such-web-root/",
    now: () => new Date("2026-06-15T12:00:00+03:00"),
    log: (entry) => lines.push(entry),
    redact: (text) => text.replaceAll("pw-never-shown", "***"),
    host: "127.0.0.1",
    port: 0,
  });
}

Deno.test("a change notification makes the server forget the data version", async () => {
  let notify: () => void = () => {};
  let stopped = false;
  const db: Database = {
    ...fakeDatabase(),
    listen: (_channel, onEvent) => {
      notify = onEvent;
      return Promise.resolve(() => Promise.resolve(void (stopped = true)));
    },
  };
  const versions = new VersionCache<DataVersion>(60_000);
  const server = await start(db, [], versions);
  assert.equal(await server.listening, true);
  versions.store(versions.begin(), { datasets: [], token: "v1" });
  const forgotten = versions.invalidated();
  notify();
  await forgotten;
  assert.equal(versions.fresh(), undefined);
  await server.shutdown();
  assert.equal(stopped, true, "stops listening when it stops");
});

Deno.test("a database that cannot listen leaves the server up, on the TTL alone, with a warning", async () => {
  const db: Database = {
    ...fakeDatabase(),
    listen: () =>
      Promise.reject(new Error("cannot execute LISTEN during recovery (pw-never-shown)")),
  };
  const lines: Record<string, unknown>[] = [];
  const server = await start(db, lines);
  try {
    assert.equal(await server.listening, false);
    const warning = lines.find((line) => line.event === "not_listening");
    assert.equal(warning?.level, "warn");
    assert.equal(warning?.versionTtlMs, 1000);
    assert.doesNotMatch(JSON.stringify(lines), /pw-never-shown/);
    const config = await fetch(`http://127.0.0.1:${server.port}/api/config`);
    assert.equal(config.status, 200);
    await config.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
