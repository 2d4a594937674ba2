// `status` as an operator and a monitor use it: one dataset at a time, EAT times, a content-lag
// limit, and an answer while another run holds the embedded database.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { writeFiles } from "./_harness.ts";

const EAT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00/;

Deno.test({
  name: "status: --dataset checks one, times are EAT, --max-content-lag flags an old feed, " +
    "and a held lock delays the answer instead of hiding it",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratchDir("test-status");
    await writeFiles(`${dir}/bucket`, generateStream({ tickets: 80, deltas: 1, seed: 31 }).files);
    const env = { PGLITE_DIR: `${dir}/pglite` };
    const ingest = await cli(["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"], env);
    assert.equal(ingest.code, 0, ingest.stderr);

    // Only INC has data: CRQ's export has not started. Checking INC alone is healthy.
    const inc = await cli(["status", "--dataset", "inc"], env);
    assert.equal(inc.code, 0, inc.stdout + inc.stderr);
    assert.match(inc.stdout, new RegExp(`^fleettickets status at ${EAT.source}.*: HEALTHY\\n`));
    assert.match(inc.stdout, new RegExp(`^inc: OK .*last applied ${EAT.source}`, "m"));
    assert.match(inc.stdout, new RegExp(`last run ${EAT.source}: ok`));
    assert.doesNotMatch(inc.stdout, /^crq:/m);
    const all = JSON.parse((await cli(["status", "--json"], env)).stdout);
    assert.deepEqual(all.datasets.map((d: { dataset: string }) => d.dataset), ["inc", "crq"]);
    if (all.workingHours) assert.equal(all.healthy, false, "CRQ never applied: unhealthy");
    assert.match(all.checkedAt, EAT);

    // The generated feed's newest update is months old: a content-lag limit catches it.
    const lagging = await cli(["status", "--dataset", "inc", "--max-content-lag", "48"], env);
    assert.equal(lagging.code, 1, lagging.stdout);
    assert.match(lagging.stdout, /^inc: STALE/m);
    assert.match(
      lagging.stdout,
      /! The newest ticket update is \d+(\.\d)? h old \(max content lag 48 h\)/,
    );

    // Another process holds the embedded database: status waits and still answers once it is
    // released; with no waiting allowed it says health was not checked (exit 1, valid JSON).
    const lock = await Deno.open(`${env.PGLITE_DIR}.lock`, { write: true, create: true });
    assert.ok(await lock.tryLock(true));
    const refused = await cli(["status", "--dataset", "inc", "--wait-lock", "0", "--json"], env);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.equal(JSON.parse(refused.stdout).healthy, false);
    assert.match(JSON.parse(refused.stdout).error, /holds the lock .*health not checked/);
    const waiting = cli(["status", "--dataset", "inc", "--json"], env);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    lock.close();
    const waited = await waiting;
    assert.equal(waited.code, 0, waited.stdout + waited.stderr);
    assert.equal(JSON.parse(waited.stdout).datasets[0].health, "ok");
  },
});

Deno.test("status --json answers a monitor in JSON when the database cannot be reached or is not there (and says why on stderr)", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close(); // nothing listens there now
  const none = `${await scratchDir("test-status")}/none`;
  const cases: [Record<string, string>, number, RegExp, string[]][] = [
    [
      { DATABASE_URL: `postgres://fleet:s3cret-pw@127.0.0.1:${port}/fleet` },
      1,
      /Cannot connect/,
      [],
    ],
    [{ PGLITE_DIR: none }, 2, /there is none there yet/, []],
    [{ PGLITE_DIR: none }, 2, /it does not exist/, ["--from-dir", `${none}-bucket`]],
  ];
  for (const [env, code, message, more] of cases) {
    const r = await cli(["status", "--json", ...more], env);
    assert.equal(r.code, code, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.healthy, false);
    assert.deepEqual(report.datasets, []);
    assert.match(report.error, message);
    assert.match(r.stderr, message);
    assert.ok(!/s3cret-pw/.test(r.stdout + r.stderr), "no password");
  }
});

cleanUpScratchDirsAtEnd();
