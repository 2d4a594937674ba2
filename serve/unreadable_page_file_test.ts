import assert from "node:assert/strict";
import { unreadablePageFile } from "./unreadable_page_file.ts";

/** A page folder as web/ is: the page, its tests and notes, vendored libraries. */
async function pageFolder(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "page-" });
  await Deno.mkdir(`${root}/vendor/leaflet`, { recursive: true });
  for (const name of ["index.html", "app.js", "style.css", "app_test.ts", "README.md"]) {
    await Deno.writeTextFile(`${root}/${name}`, "x");
  }
  await Deno.writeTextFile(`${root}/vendor/leaflet/leaflet.js`, "x");
  return root;
}

Deno.test("unreadablePageFile() finds none in a readable page folder, nor without one", async () => {
  const root = await pageFolder();
  try {
    assert.equal(await unreadablePageFile(root), undefined);
    assert.equal(await unreadablePageFile(`${root}/missing/`), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("unreadablePageFile() names a page file or folder that may not be read, whatever else is there", async () => {
  const root = await pageFolder();
  // The tests run as root, whom file modes do not stop: Deno's refusal (--deny-read) stands in
  // for the system's. The probe runs from .data/ so it resolves the checkout's imports.
  await Deno.mkdir(".data", { recursive: true });
  const probe = `.data/page-probe-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(
    probe,
    `import { unreadablePageFile } from "../serve/unreadable_page_file.ts";\n` +
      `console.log(JSON.stringify((await unreadablePageFile(Deno.args[0])) ?? null));\n`,
  );
  const found = async (denied: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", `--deny-read=${denied}`, probe, root],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  try {
    assert.equal(
      await found(`${root}/vendor/leaflet/leaflet.js`),
      `${root}/vendor/leaflet/leaflet.js`,
    );
    assert.equal(await found(`${root}/vendor`), `${root}/vendor`);
    assert.equal(await found(`${root}/index.html`), `${root}/index.html`);
    // Not one of the page's files: never served, so not asked for.
    assert.equal(await found(`${root}/README.md`), null);
  } finally {
    await Deno.remove(probe);
    await Deno.remove(root, { recursive: true });
  }
});
