/**
 * `deno task vendor-web`: copies the map page's front-end libraries from npm (pinned versions,
 * fetched with `npm pack`, so the registry checks each tarball's integrity) into `web/vendor/`,
 * which is committed: the page never loads anything from a CDN. `--check` rebuilds into a
 * scratch folder and fails when `web/vendor/` differs from what the script produces.
 *
 * @module
 */

/** One vendored package: which dist files are copied, and where they land under web/vendor/. */
export interface VendoredPackage {
  name: string;
  version: string;
  /** Path in the package → path under `web/vendor/<folder>/`. */
  files: Record<string, string>;
  folder: string;
}

/** The pinned front-end libraries of the page. */
export const PACKAGES: readonly VendoredPackage[] = [
  {
    name: "leaflet",
    version: "1.9.4",
    folder: "leaflet",
    files: {
      "dist/leaflet.js": "leaflet.js",
      "dist/leaflet.css": "leaflet.css",
      "dist/images/layers.png": "images/layers.png",
      "dist/images/layers-2x.png": "images/layers-2x.png",
      "LICENSE": "LICENSE",
    },
  },
  {
    // The UMD build bundles its one dependency (kdbush).
    name: "supercluster",
    version: "9.1.0",
    folder: "supercluster",
    files: { "dist/supercluster.min.js": "supercluster.min.js", "LICENSE": "LICENSE" },
  },
  {
    name: "uplot",
    version: "1.6.32",
    folder: "uplot",
    files: {
      "dist/uPlot.iife.min.js": "uPlot.iife.min.js",
      "dist/uPlot.min.css": "uPlot.min.css",
      "LICENSE": "LICENSE",
    },
  },
  {
    // Loaded only when MAP_PMTILES is set; the IIFE build bundles fflate. No LICENSE file in the
    // tarball: BSD-3-Clause per its package.json (copied).
    name: "pmtiles",
    version: "4.5.0",
    folder: "pmtiles",
    files: { "dist/pmtiles.js": "pmtiles.js", "package.json": "package.json" },
  },
];

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output()
    .catch((error) => {
      throw new Error(`Cannot run "${cmd}": ${(error as Error).message}`);
    });
  if (!out.success) {
    throw new Error(
      `Cannot run "${cmd} ${args.join(" ")}": ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Fetches every package with `npm pack` and writes the vendored files into `target`. */
export async function vendorWeb(target: string): Promise<void> {
  const scratch = await Deno.makeTempDir({ prefix: "fleettickets-vendor-" });
  try {
    await Deno.remove(target, { recursive: true }).catch(() => {});
    const versions: Record<string, string> = {};
    for (const pkg of PACKAGES) {
      const spec = `${pkg.name}@${pkg.version}`;
      const packed = JSON.parse(
        await run("npm", ["pack", spec, "--json", "--silent", "--pack-destination", scratch]),
      ) as { filename: string; integrity: string }[];
      const tarball = `${scratch}/${packed[0]!.filename}`;
      const unpacked = `${scratch}/${pkg.name}`;
      await Deno.mkdir(unpacked);
      await run("tar", ["-xzf", tarball, "-C", unpacked]);
      for (const [from, to] of Object.entries(pkg.files)) {
        const dest = `${target}/${pkg.folder}/${to}`;
        await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
        await Deno.copyFile(`${unpacked}/package/${from}`, dest);
      }
      versions[pkg.name] = `${pkg.version} ${packed[0]!.integrity}`;
    }
    await Deno.writeTextFile(
      `${target}/VERSIONS.json`,
      JSON.stringify(versions, null, 2) + "\n",
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${root}/${prefix}`)) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) names.push(...await listFiles(root, path));
    else names.push(path);
  }
  return names.sort();
}

/** Differences between two vendor folders (file lists and bytes); empty when equal. */
export async function diffVendor(expected: string, actual: string): Promise<string[]> {
  const want = await listFiles(expected);
  const got = await listFiles(actual).catch(() => [] as string[]);
  const diffs: string[] = [];
  for (const name of want) {
    if (!got.includes(name)) diffs.push(`missing ${name}`);
    else {
      const [a, b] = [
        await Deno.readFile(`${expected}/${name}`),
        await Deno.readFile(`${actual}/${name}`),
      ];
      if (a.length !== b.length || a.some((byte, i) => byte !== b[i])) {
        diffs.push(`differs ${name}`);
      }
    }
  }
  for (const name of got) if (!want.includes(name)) diffs.push(`unexpected ${name}`);
  return diffs;
}

if (import.meta.main) {
  const target = new URL("../web/vendor", import.meta.url).pathname;
  if (Deno.args.includes("--check")) {
    const scratch = await Deno.makeTempDir({ prefix: "fleettickets-vendor-check-" });
    try {
      await vendorWeb(`${scratch}/vendor`);
      const diffs = await diffVendor(`${scratch}/vendor`, target);
      if (diffs.length > 0) {
        console.error(
          `web/vendor/ is not what "deno task vendor-web" produces:\n  ${diffs.join("\n  ")}`,
        );
        Deno.exit(1);
      }
      console.log("web/vendor/ matches the pinned npm packages");
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
  } else {
    await vendorWeb(target);
    console.log(
      `Vendored ${PACKAGES.map((p) => `${p.name}@${p.version}`).join(", ")} into web/vendor/`,
    );
  }
}
