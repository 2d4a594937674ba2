import assert from "node:assert/strict";
import { loadConfig } from "../app/config.ts";
import type { Context } from "./_context.ts";
import { configToRead } from "./_config_to_read.ts";

async function withFolders(fn: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "config-to-read-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function context(vars: Record<string, string>, errors: string[]): Context {
  const config = loadConfig((name) => vars[name]);
  return {
    config,
    redact: (text) => text,
    out: () => {},
    io: {
      env: (name) => vars[name],
      stdout: () => {},
      stderr: (text) => errors.push(text),
      terminal: { stdout: false, stderr: false },
      onSignal: () => () => {},
    },
  };
}

const makeDatabase = async (dir: string) => {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/PG_VERSION`, "18\n");
};

Deno.test("configToRead() reads the demo's database when the default folder has none, and says so on stderr", async () => {
  await withFolders(async (root) => {
    const folders = { defaultDir: `${root}/pglite`, demoDir: `${root}/demo/pglite` };
    await makeDatabase(folders.demoDir);
    const errors: string[] = [];
    const config = await configToRead(context({ PGLITE_DIR: folders.defaultDir }, errors), folders);
    assert.equal(config.pgliteDir, folders.demoDir);
    assert.deepEqual(errors, [
      `Reading the demo's database "${folders.demoDir}": "${folders.defaultDir}" (PGLITE_DIR) ` +
      `has none yet; "deno task ingest" fills it\n`,
    ]);
  });
});

Deno.test("configToRead() says it writes to the demo's database for a command that writes", async () => {
  await withFolders(async (root) => {
    const folders = { defaultDir: `${root}/pglite`, demoDir: `${root}/demo/pglite` };
    await makeDatabase(folders.demoDir);
    const errors: string[] = [];
    const config = await configToRead(context({ PGLITE_DIR: folders.defaultDir }, errors), {
      ...folders,
      writes: true,
    });
    assert.equal(config.pgliteDir, folders.demoDir);
    assert.deepEqual(errors, [
      `Writing to the demo's database "${folders.demoDir}": "${folders.defaultDir}" (PGLITE_DIR) ` +
      `has none yet; "deno task ingest" fills it\n`,
    ]);
  });
});

Deno.test("configToRead() keeps the configured database, silently, once it exists or when named", async () => {
  await withFolders(async (root) => {
    const folders = { defaultDir: `${root}/pglite`, demoDir: `${root}/demo/pglite` };
    await makeDatabase(folders.demoDir);
    const errors: string[] = [];
    const other = `${root}/mine`;
    assert.equal(
      (await configToRead(context({ PGLITE_DIR: other }, errors), folders)).pgliteDir,
      other,
    );
    await makeDatabase(folders.defaultDir);
    const own = await configToRead(context({ PGLITE_DIR: folders.defaultDir }, errors), folders);
    assert.equal(own.pgliteDir, folders.defaultDir);
    const url = "postgres://fleet@db/fleet";
    assert.equal(
      (await configToRead(context({ DATABASE_URL: url }, errors), folders)).databaseUrl,
      url,
    );
    assert.deepEqual(errors, []);
  });
});

Deno.test("configToRead() takes the demo's folder that a demo stopped in its first boot left marked, so the open says to rerun the demo", async () => {
  await withFolders(async (root) => {
    const folders = { defaultDir: `${root}/pglite`, demoDir: `${root}/demo/pglite` };
    // Before: no data file yet, so the default folder was opened: "there is none there yet".
    await Deno.mkdir(`${root}/demo`);
    await Deno.writeTextFile(`${folders.demoDir}.incomplete`, "stopped\n");
    for (const made of [false, true]) {
      if (made) await Deno.mkdir(folders.demoDir); // the empty folder it may leave
      const errors: string[] = [];
      const config = await configToRead(
        context({ PGLITE_DIR: folders.defaultDir }, errors),
        folders,
      );
      assert.equal(config.pgliteDir, folders.demoDir, `folder made: ${made}`);
    }
  });
});
