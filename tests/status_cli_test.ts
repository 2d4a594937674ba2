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

    // Another process holds the embedded database for 4 s: status waits and still answers.
    const lock = await Deno.open(`${env.PGLITE_DIR}.lock`, { write: true, create: true });
    assert.ok(await lock.tryLock(true));
    const release = new Promise((resolve) => setTimeout(resolve, 4000)).then(() => lock.close());
    const waited = await cli(["status", "--dataset", "inc", "--json"], env);
    await release;
    assert.equal(waited.code, 0, waited.stdout + waited.stderr);
    assert.equal(JSON.parse(waited.stdout).datasets[0].health, "ok");
  },
});

cleanUpScratchDirsAtEnd();
