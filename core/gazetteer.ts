/**
 * The gazetteer review sheet: export every cached answer as CSV for a person to check, and
 * import curated coordinates back (stored as `manual`, never overwritten by a provider).
 *
 * @module
 */

import { parse } from "csv-parse/sync";
import { DATASETS } from "./datasets.ts";
import { resolveGeometry } from "./geocode.ts";
import type { Database } from "./ports/mod.ts";

/** The review sheet's columns, in order. */
export const GAZETTEER_COLUMNS = [
  "kind",
  "cluster",
  "place",
  "lat",
  "lon",
  "source",
  "status",
  "verified",
  "reason",
  "distance_m",
  "query",
  "looked_up_at",
] as const;

/** Times in EAT (`…+03:00`), as every time fleettickets prints. */
const EXPORT = `
select 'cluster' as kind, cluster, '' as place, st_y(geom) as lat, st_x(geom) as lon,
       coalesce(provider, '') as source, status, verified, coalesce(reason, '') as reason,
       distance_m, coalesce(query, '') as query, tickets.eat_iso(looked_up_at) as looked_up_at
from tickets.geo_clusters
union all
select 'location', cluster, place, st_y(geom), st_x(geom), coalesce(provider, ''), status,
       verified, coalesce(reason, ''), distance_m, coalesce(query, ''),
       tickets.eat_iso(looked_up_at)
from tickets.geo_locations
order by 1, 2, 3`;

function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Renders the whole gazetteer as CSV (header + one line per cached answer), `looked_up_at` in
 * EAT.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, exportGazetteer } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * await Deno.writeTextFile(".data/gazetteer.csv", await exportGazetteer(db));
 * await db.close();
 * ```
 */
export async function exportGazetteer(db: Database): Promise<string> {
  const rows = await db.query<Record<string, unknown>>(EXPORT);
  const lines = [GAZETTEER_COLUMNS.join(",")];
  for (const row of rows) lines.push(GAZETTEER_COLUMNS.map((c) => csvField(row[c])).join(","));
  return lines.join("\n") + "\n";
}

/** What an import did. */
export interface ImportReport {
  /** Rows stored as curated coordinates. */
  updated: number;
  /** Rows left alone (no coordinates, or unchanged and not newly verified). */
  skipped: number;
  /** Rows that could not be read, with line and reason. */
  errors: { line: number; reason: string }[];
  /** Tickets whose geometry changed. */
  resolved: number;
}

const UPSERT_MANUAL_CLUSTER = `
insert into tickets.geo_clusters (cluster, status, geom, provider, reason, verified, looked_up_at)
values ($1, 'manual', st_setsrid(st_makepoint($3::float8, $2::float8), 4326), 'manual', $4, $5, now())
on conflict (cluster) do update set
  status = 'manual', geom = excluded.geom, provider = 'manual', reason = excluded.reason,
  verified = excluded.verified, looked_up_at = now()
where tickets.geo_clusters.geom is distinct from excluded.geom
   or tickets.geo_clusters.verified is distinct from excluded.verified
   or tickets.geo_clusters.status <> 'manual'`;

const UPSERT_MANUAL_LOCATION = `
insert into tickets.geo_locations
  (cluster, place, status, geom, provider, reason, verified, looked_up_at)
values ($1, $6, 'manual', st_setsrid(st_makepoint($3::float8, $2::float8), 4326), 'manual', $4, $5, now())
on conflict (cluster, place) do update set
  status = 'manual', geom = excluded.geom, provider = 'manual', reason = excluded.reason,
  verified = excluded.verified, looked_up_at = now()
where tickets.geo_locations.geom is distinct from excluded.geom
   or tickets.geo_locations.verified is distinct from excluded.verified
   or tickets.geo_locations.status <> 'manual'`;

/** Options for {@linkcode importGazetteer}. */
export interface ImportOptions {
  /** How messages name the sheet (`the gazetteer sheet "review.csv"`). */
  name?: string;
}

/** Of the columns `exportGazetteer` writes, those an import needs. */
const REQUIRED = ["kind", "cluster", "lat", "lon"];

/** Parses the sheet; a file that is not one (another CSV, a text file) fails naming what is wrong. */
function readSheet(csv: string, name: string): Record<string, string>[] {
  const expected = `expected a CSV with the header ${GAZETTEER_COLUMNS.join(",")}`;
  // The header is checked as it is read, so a header without rows is judged too.
  let missing: string[] = [];
  let records: Record<string, string>[];
  try {
    records = parse(csv, {
      columns: (header: string[]) => {
        missing = REQUIRED.filter((c) => !header.includes(c));
        return header;
      },
      bom: true,
      skip_empty_lines: true,
      trim: true,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot read ${name}: ${reason} (${expected})`);
  }
  if (missing.length > 0) {
    throw new Error(
      `Cannot read ${name}: its header has no ${
        missing.map((c) => `"${c}"`).join(", ")
      } (${expected})`,
    );
  }
  return records;
}

/**
 * Imports a reviewed sheet: every row with coordinates becomes a curated (`manual`) entry with
 * the sheet's `verified` flag (true when empty). Rows without coordinates are skipped. Ticket
 * geometry is re-resolved afterwards. Bad rows are reported with their line, never half-applied.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, importGazetteer } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const sheet = "kind,cluster,place,lat,lon,verified\ncluster,Quarry Road,,-1.2780,36.8390,true\n";
 * const report = await importGazetteer(db, sheet);
 * for (const e of report.errors) console.error(`line ${e.line}: ${e.reason}`);
 * console.log(`${report.updated} updated, ${report.resolved} tickets moved`);
 * await db.close();
 * ```
 */
export async function importGazetteer(
  db: Database,
  csv: string,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const records = readSheet(csv, options.name ?? "the gazetteer sheet");
  const report: ImportReport = { updated: 0, skipped: 0, errors: [], resolved: 0 };
  const valid: { kind: string; params: unknown[] }[] = [];
  records.forEach((r, i) => {
    const line = i + 2;
    if (!r.lat && !r.lon) {
      report.skipped++;
      return;
    }
    const lat = Number(r.lat);
    const lon = Number(r.lon);
    if (!r.cluster) return void report.errors.push({ line, reason: "has no cluster" });
    if (!(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180) || r.lat === "" || r.lon === "") {
      return void report.errors.push({
        line,
        reason: `has coordinates out of range: "${r.lat}", "${r.lon}"`,
      });
    }
    if (r.kind !== "cluster" && r.kind !== "location") {
      return void report.errors.push({
        line,
        reason: `has kind "${r.kind}": expected cluster or location`,
      });
    }
    if (r.kind === "location" && !r.place) {
      return void report.errors.push({ line, reason: "is a location without a place" });
    }
    const verified = r.verified === undefined || r.verified === "" ||
      /^(true|t|1|yes|y)$/i.test(r.verified);
    const params = [r.cluster, lat, lon, r.reason || "imported from the review sheet", verified];
    valid.push({ kind: r.kind, params: r.kind === "location" ? [...params, r.place] : params });
  });
  if (report.errors.length > 0) return report; // all or nothing: fix the sheet first
  await db.transaction(async (tx) => {
    for (const { kind, params } of valid) {
      const rows = await tx.query(
        `with u as (${
          kind === "cluster" ? UPSERT_MANUAL_CLUSTER : UPSERT_MANUAL_LOCATION
        } returning 1) select count(*)::int as n from u`,
        params,
      );
      if ((rows[0] as { n: number } | undefined)?.n) report.updated++;
      else report.skipped++;
    }
  });
  report.resolved = await resolveGeometry(db, Object.values(DATASETS));
  return report;
}
