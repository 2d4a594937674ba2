// The embedded database on a full disk: every command says so before PGlite tries, and doctor
// says how much room there is. A full disk is a small tmpfs mounted under .data/ (root only: CI
// runs as root; elsewhere the test is reported as ignored, never as passed).

import assert from "node:assert/strict";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";

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

cleanUpScratchDirsAtEnd();
