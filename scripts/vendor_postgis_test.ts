import assert from "node:assert/strict";
import { filterTar, keepEntry } from "./vendor_postgis.ts";

Deno.test("the cut PostGIS bundle keeps the postgis library, its extension scripts and PROJ's data, nothing of raster, topology or TIGER", () => {
  for (
    const path of [
      "lib/postgresql/postgis-3.so",
      "share/postgresql/extension/postgis.control",
      "share/postgresql/extension/postgis--3.6.2.sql",
      "share/postgresql/extension/postgis--ANY--3.6.2.sql",
      "share/postgresql/extension/postgis--3.5.1--ANY.sql",
      "share/proj/proj.db",
      "share/proj/",
    ]
  ) assert.ok(keepEntry(path), path);
  for (
    const path of [
      "lib/postgresql/postgis_raster-3.so",
      "lib/postgresql/postgis_topology-3.so",
      "share/postgresql/extension/postgis_raster.control",
      "share/postgresql/extension/postgis_tiger_geocoder--3.6.2.sql",
      "share/postgresql/extension/postgis--unpackaged--3.6.2.sql",
      "share/postgresql/contrib/postgis-3.6/spatial_ref_sys.sql",
    ]
  ) assert.ok(!keepEntry(path), path);
});

Deno.test("a tar cut to some entries lists exactly those, long names included, each file's bytes unchanged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fleettickets-tar-" });
  try {
    const long = `share/proj/${"d".repeat(120)}.json`; // over ustar's 100: a GNU long-name entry
    const files = {
      "lib/postgresql/postgis-3.so": "wasm",
      "lib/postgresql/postgis_raster-3.so": "raster",
      [long]: "long",
      [`share/postgresql/extension/postgis_raster--${"9".repeat(110)}.sql`]: "dropped",
      "share/postgresql/extension/postgis.control": "control",
    };
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/in/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/in/${path}`, text);
    }
    const tar = (args: string[], stdin?: Uint8Array) => {
      const child = new Deno.Command("tar", {
        args,
        cwd: `${dir}/in`,
        stdin: stdin ? "piped" : "null",
        stdout: "piped",
      }).spawn();
      if (stdin) {
        const writer = child.stdin.getWriter();
        writer.write(stdin).then(() => writer.close());
      }
      return child.output().then((out) => out.stdout);
    };
    const whole = await tar(["--format=gnu", "-cf", "-", "lib", "share"]);
    const cut = filterTar(whole, keepEntry);
    const listed = new TextDecoder().decode(await tar(["-tf", "-"], cut)).trim().split("\n");
    assert.deepEqual(
      listed.filter((path) => !path.endsWith("/")).sort(),
      ["lib/postgresql/postgis-3.so", long, "share/postgresql/extension/postgis.control"].sort(),
    );
    await Deno.mkdir(`${dir}/out`);
    const extract = new Deno.Command("tar", {
      args: ["-xf", "-"],
      cwd: `${dir}/out`,
      stdin: "piped",
    })
      .spawn();
    const writer = extract.stdin.getWriter();
    await writer.write(cut);
    await writer.close();
    assert.ok((await extract.status).success);
    assert.equal(await Deno.readTextFile(`${dir}/out/${long}`), "long");
    assert.equal(await Deno.readTextFile(`${dir}/out/lib/postgresql/postgis-3.so`), "wasm");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a cut that would leave a link pointing at an entry left out, or a tar cut short, is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fleettickets-tar-" });
  try {
    const ext = `${dir}/share/postgresql/extension`;
    await Deno.mkdir(ext, { recursive: true });
    await Deno.writeTextFile(`${ext}/postgis--TEMPLATED--TO--ANY.sql`, "-- upgrade");
    await Deno.symlink("postgis--TEMPLATED--TO--ANY.sql", `${ext}/postgis--3.5.1--ANY.sql`);
    const tar = async () =>
      (await new Deno.Command("tar", {
        args: ["--format=gnu", "-cf", "-", "share"],
        cwd: dir,
        stdout: "piped",
      }).output()).stdout;
    // Its target kept: the link stays.
    assert.ok(filterTar(await tar(), keepEntry).length > 1024);
    // Its target left out: it would dangle in the bundle.
    assert.throws(() => filterTar(new Uint8Array(), keepEntry), /it ends before its end/);
    const whole = await tar();
    assert.throws(
      () => filterTar(whole, (path) => !path.includes("TEMPLATED")),
      /^Error: Cannot cut the bundle: "share\/postgresql\/extension\/postgis--3\.5\.1--ANY\.sql" links to "postgis--TEMPLATED--TO--ANY\.sql", which is left out$/,
    );
    assert.throws(() => filterTar(whole.subarray(0, 700), keepEntry), /Cannot read the tar/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
