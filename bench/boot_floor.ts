// The embedded database's boot floor against `status`, on the same data directory, whole
// processes (Deno start included), alternated, peak RSS polled from /proc (VmHWM):
//   floor   bench/_boot_probe.ts bare     PGlite.create() + select 1, no extension
//   PostGIS bench/_boot_probe.ts postgis  the same with the PostGIS extension as fleettickets loads it
//   npm     bench/_boot_probe.ts postgis-npm  the same with the npm package's whole PostGIS bundle
//   status  deno run -P=worker main.ts status --dataset inc   (what a monitor runs)
// `deno task bench` runs it on its PGlite directory; alone:
//   deno run -A bench/boot_floor.ts DATA_DIR [RUNS]     (DATA_DIR: a migrated embedded database)

import { type Measured, measureProcess } from "./_measure_process.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Measures the floor, PostGIS and `status` `runs` times each; returns Markdown table rows. */
export async function measureBootFloor(dataDir: string, runs: number): Promise<string> {
  const kinds = {
    floor: ["run", "-A", "bench/_boot_probe.ts", "bare", dataDir],
    postgis: ["run", "-A", "bench/_boot_probe.ts", "postgis", dataDir],
    npm: ["run", "-A", "bench/_boot_probe.ts", "postgis-npm", dataDir],
    status: [
      "run",
      "-P=worker",
      "--quiet",
      "main.ts",
      "status",
      "--dataset",
      "inc",
      "--max-age",
      "1000000",
    ],
  } as const;
  const results: Record<keyof typeof kinds, Measured[]> = {
    floor: [],
    postgis: [],
    npm: [],
    status: [],
  };
  for (let i = 0; i < runs; i++) {
    for (const [kind, args] of Object.entries(kinds) as [keyof typeof kinds, readonly string[]][]) {
      results[kind].push(await measureProcess(Deno.execPath(), [...args], { PGLITE_DIR: dataDir }));
    }
  }
  const ms = (kind: keyof typeof kinds) => median(results[kind].map((r) => r.ms));
  const mb = (kind: keyof typeof kinds) => median(results[kind].map((r) => r.peakRssKb)) / 1024;
  const row = (label: string, kind: keyof typeof kinds) =>
    `| ${label}, median of ${runs} | ${Math.round(ms(kind))} ms (${
      results[kind].map((r) => Math.round(r.ms)).join(", ")
    }), ${mb(kind).toFixed(0)} MB peak RSS | report |`;
  return [
    row("embedded floor: PGlite.create() + select 1, no extension, whole process", "floor"),
    row(
      "embedded with PostGIS: the same + the PostGIS extension (vendor/'s cut bundle)",
      "postgis",
    ),
    row("the same with the npm package's whole PostGIS bundle (raster, topology, TIGER)", "npm"),
    row("`status --dataset inc` on the same embedded database, whole process", "status"),
    `| status / floor | **${(ms("status") / ms("floor")).toFixed(2)}×** time, **${
      (mb("status") / mb("floor")).toFixed(2)
    }×** memory | ≤ 1.3 |`,
    `| status / floor with PostGIS | ${(ms("status") / ms("postgis")).toFixed(2)}× time, ${
      (mb("status") / mb("postgis")).toFixed(2)
    }× memory | report |`,
  ].join("\n");
}

if (import.meta.main) {
  const [dir, runs] = Deno.args;
  if (dir === undefined) {
    console.error("Usage: deno run -A bench/boot_floor.ts DATA_DIR [RUNS]");
    Deno.exit(2);
  }
  console.log("| measure | result | target |\n|---|---|---|");
  console.log(await measureBootFloor(dir, Number(runs ?? "3")));
}
