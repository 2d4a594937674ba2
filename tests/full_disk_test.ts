// The embedded database on a full disk: every command says so before PGlite tries, and doctor
// says how much room there is. A full disk is a small tmpfs mounted under .data/ (root only: CI
// runs as root; elsewhere the test is reported as ignored, never as passed).

import assert from "node:assert/strict";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { generateStream } from "../demo/generate_stream.ts";

const root = Deno.uid() === 0;

/** A tmpfs of `size` (mount's words: 1m, 300m) at a new folder under .data/, for `fn`. */
async function withDisk(size: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await scratchDir("test-full-disk");
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
  }).output();
  assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
  try {
    await fn(dir);
  } finally {
    await new Deno.Command("umount", { args: [dir] }).output();
  }
}

/** Fills the disk holding `dir` until the system says it is full. */
async function fill(dir: string): Promise<void> {
  const file = await Deno.open(`${dir}/filler`, { write: true, create: true });
  try {
    const block = new Uint8Array(64 * 1024);
    for (;;) await file.write(block);
  } catch (error) {
    assert.match(String(error), /No space left on device/);
  } finally {
    file.close();
  }
}

Deno.test({
  name: "embedded database on a full disk: doctor fails the folder naming the disk, " +
    "ingest --apply and status end with exit 2 before PGlite starts, and nothing is made " +
    "[a tmpfs: run as root]",
  ignore: !root,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withDisk("1m", async (dir) => {
      await fill(dir);
      const env = { PGLITE_DIR: `${dir}/pglite` };
      const full = new RegExp(
        `Cannot open the embedded database "${dir}/pglite": the disk holding "${dir}" is full ` +
          `\\(\\d+ bytes free\\); free space on it, or set PGLITE_DIR to a folder on another disk`,
      );

      // Before: "ok embedded directory … writable" (an empty probe file needs no block).
      const doctor = await cli(["doctor"], env);
      assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
      assert.match(doctor.stdout, /^fail +embedded directory +/m);
      assert.match(doctor.stdout, full);

      const source = await scratchDir("test-full-disk-source");
      await Deno.mkdir(`${source}/automations/inc/changes`, { recursive: true });
      for (const args of [["ingest", "--from-dir", source, "--apply"], ["status"]]) {
        const r = await cli(args, env);
        assert.equal(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`);
        // ingest's run line is JSON (its quotes escaped) when not on a terminal.
        const said = (r.stdout + r.stderr).replaceAll('\\"', '"');
        assert.match(said, full, `${args[0]}: ${said}`);
      }
      const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(left, ["filler"]);
    }),
});

Deno.test({
  name:
    "embedded database on a nearly full disk: doctor warns with the room left and passes [a tmpfs: run as root]",
  ignore: !root,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withDisk("100m", async (dir) => {
      const r = await cli(["doctor"], { PGLITE_DIR: `${dir}/pglite` });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /^warn +embedded directory +".*\/pglite" is inside \.\/\.data and writable \(the database will be created by "ingest --apply" or "migrate"\); 10\d MB free on its disk: nearly full$/m,
      );
      assert.match(
        r.stdout,
        /free space on that disk, or set PGLITE_DIR to a folder on another disk/,
      );
    }),
});

Deno.test({
  name: "a drain folder on a read-only file system fails the run as not transient, naming the " +
    "fix; the file applied stays applied and is moved by the run after the fix [a tmpfs: run as root]",
  ignore: !root,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withDisk("4m", async (dir) => {
      const changes = `${dir}/automations/inc/changes`;
      await Deno.mkdir(changes, { recursive: true });
      const files = generateStream({ tickets: 30, deltas: 1, seed: 9 }).files;
      for (const f of files) await Deno.writeTextFile(`${changes}/${f.name}`, f.text);
      const remount = (mode: string) =>
        new Deno.Command("mount", { args: ["-o", `remount,${mode}`, dir] }).output();
      assert.equal((await remount("ro")).code, 0);
      const db = await scratchDir("test-ro-db");
      const env = { PGLITE_DIR: `${db}/pglite` };
      const run = await cli(["ingest", "--from-dir", dir, "--apply", "--json"], env);
      const report = JSON.parse(run.stdout);
      assert.equal(run.code, 1, run.stderr);
      // Before: "transient": true, "the next run retries it as is", every run the same.
      assert.equal(report.transient, false);
      assert.match(
        report.files[0].notArchived ?? report.error,
        /the folder is on a read-only file system; mount it writable/,
      );
      assert.equal(report.files[0].status, "applied");
      assert.equal(report.files[1].status, "not_reached");
      assert.equal((await remount("rw")).code, 0);
      const again = JSON.parse(
        (await cli(["ingest", "--from-dir", dir, "--apply", "--json"], env)).stdout,
      );
      assert.equal(again.status, "ok", again.error);
      assert.deepEqual(again.files.map((f: { status: string }) => f.status), [
        "archived",
        "applied",
      ]);
    }),
});

// Last, after every test that makes a folder or a database.
cleanUpScratchDirsAtEnd();
