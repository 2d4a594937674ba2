/**
 * A real PostgreSQL restart between runs (issue 7): half a stream drained by the CLI, the server
 * restarted by `RESTART_CMD`, the rest drained by the CLI and, on a client opened before the
 * restart, by the library; the final state must equal the generator's model and every file must
 * be applied exactly once. `.ci/run` runs it against the cluster it owns:
 *
 * ```sh
 * RESTART_CMD="scripts/pg_test_cluster.sh stop DIR && scripts/pg_test_cluster.sh start DIR PORT" \
 *   TEST_DATABASE_URL=… deno run -A tests/restart_check.ts
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain } from "../core/drain.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { createScratchDatabase, diffState, dropScratchDatabase } from "./_harness.ts";

const base = Deno.env.get("TEST_DATABASE_URL");
const restart = Deno.env.get("RESTART_CMD");
if (!base || !restart) {
  console.error("Set TEST_DATABASE_URL and RESTART_CMD (a command that restarts that server)");
  Deno.exit(2);
}

const stream = generateStream({ tickets: 2000, deltas: 6, seed: 91 });
const url = await createScratchDatabase(base);
// Under ./.data: the worker permission set reads "." and writes only ./.data.
await Deno.mkdir(".data", { recursive: true }); // a fresh clone has none yet
const root = await Deno.makeTempDir({ dir: ".data", prefix: "restart-" });
const changes = `${root}/${INC.changesPrefix}`;
await Deno.mkdir(changes, { recursive: true });
const put = (files: typeof stream.files) =>
  Promise.all(files.map((f) => Deno.writeTextFile(changes + f.name, f.text)));

async function cli(...args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=worker", "--quiet", "main.ts", ...args],
    env: { DATABASE_URL: url },
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${args.join(" ")} exited ${out.code}: ${err.slice(-800)}`);
}

async function restartServer(): Promise<void> {
  const started = performance.now();
  const out = await new Deno.Command("bash", { args: ["-c", restart!] }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  console.log(`restarted PostgreSQL in ${Math.round(performance.now() - started)} ms`);
}

const held = createPostgresDatabase(url); // a library client that lives across the restarts
try {
  await cli("migrate");
  await put(stream.files.slice(0, 3));
  await cli("ingest", "--from-dir", root, "--apply", "--json");
  await held.query("select 1");

  await restartServer();
  await put(stream.files.slice(3, 5));
  await cli("ingest", "--from-dir", root, "--apply", "--json");
  console.log("CLI run after the restart: ok");

  await restartServer();
  await put(stream.files.slice(5));
  const report = await drain(createDirObjectStore(root), held, { dataset: INC, apply: true });
  assert.equal(report.status, "ok", report.error);
  console.log("library client opened before the restart: ok");

  assert.deepEqual(await diffState(held, stream.expected), []);
  const [meta] = await held.query<{ files_applied: number }>(
    `select files_applied::int from tickets.import_meta where dataset = 'inc'`,
  );
  assert.equal(meta?.files_applied, stream.files.length, "every file applied exactly once");
  console.log(
    `ok: ${stream.files.length} files across 2 restarts, ${stream.expected.size} tickets equal the model`,
  );
} finally {
  await held.close();
  await Deno.remove(root, { recursive: true });
  await dropScratchDatabase(url);
}
