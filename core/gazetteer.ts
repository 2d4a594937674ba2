/**
 * The gazetteer review sheet: export every cached answer as CSV for a person to check, and
 * import it back: the rows the person edited or added become curated coordinates (stored as
 * `manual`, never overwritten by a provider); the rows left as exported stay exactly as they are.
 *
 * @module
 */

import { parse } from "csv-parse/sync";
import { DATASETS } from "./datasets.ts";
import { nameKey } from "./name_key.ts";
import {
  CLUSTER_GUARD_M,
  clusterCityCentres,
  distanceM,
  LOCATION_GUARD_M,
  resolveGeometry,
  unionOf,
} from "./geocode.ts";
import type { Database, SqlSession } from "./ports/mod.ts";

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

/** Decimals of the sheet's coordinates (about 0.1 m), as in the tickets export. */
const DECIMALS = 6;

/** Coordinates as text to {@linkcode DECIMALS} places, times in EAT (`…+03:00`). */
const EXPORT = `
select 'cluster' as kind, cluster, '' as place,
       round(st_y(geom)::numeric, ${DECIMALS})::text as lat,
       round(st_x(geom)::numeric, ${DECIMALS})::text as lon,
       coalesce(provider, '') as source, status, verified, coalesce(reason, '') as reason,
       distance_m, coalesce(query, '') as query, tickets.eat_iso(looked_up_at) as looked_up_at
from tickets.geo_clusters
union all
select 'location', cluster, place, round(st_y(geom)::numeric, ${DECIMALS})::text,
       round(st_x(geom)::numeric, ${DECIMALS})::text, coalesce(provider, ''), status, verified,
       coalesce(reason, ''), distance_m, coalesce(query, ''), tickets.eat_iso(looked_up_at)
from tickets.geo_locations
order by 1, 2, 3`;

interface ExportRow {
  kind: string;
  cluster: string;
  place: string;
  lat: string | null;
  lon: string | null;
  status: string;
  verified: boolean;
  [column: string]: unknown;
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Renders the whole gazetteer as CSV (header + one line per cached answer): coordinates to 6
 * decimals, `looked_up_at` in EAT. Imported back unedited, it changes nothing.
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
  const rows = await db.query<ExportRow>(EXPORT);
  const lines = [GAZETTEER_COLUMNS.join(",")];
  for (const row of rows) lines.push(GAZETTEER_COLUMNS.map((c) => csvField(row[c])).join(","));
  return lines.join("\n") + "\n";
}

/** What an import did. */
export interface ImportReport {
  /** Rows that differ from the gazetteer (coordinates, status or `verified`), now as the sheet says. */
  changed: number;
  /** Rows as the gazetteer holds them, left exactly as they are. */
  unchanged: number;
  /** Rows not in the gazetteer, stored as curated. */
  added: number;
  /** Rows without coordinates that would need them (new, or erased): left alone. */
  skipped: number;
  /** Rows that could not be read, with line and reason. */
  errors: { line: number; reason: string }[];
  /**
   * Rows stored although their point is farther from where the geocoder's wrong-city guard
   * measures it from than the guard allows (a location from its cluster's centroid, a cluster
   * from its city centre), with line and reason: stored all the same (a person decided).
   */
  warnings: { line: number; reason: string }[];
  /** Tickets whose geometry changed. */
  resolved: number;
}

const STATUSES = ["hit", "miss", "rejected", "manual"];

const UPSERT_MANUAL_CLUSTER = `
insert into tickets.geo_clusters
  (cluster, status, geom, provider, reason, verified, looked_up_at, distance_m)
values ($1, 'manual', st_setsrid(st_makepoint($3::float8, $2::float8), 4326), 'manual', $4, $5, now(),
        $6)
on conflict (cluster) do update set
  status = 'manual', geom = excluded.geom, provider = 'manual', reason = excluded.reason,
  verified = excluded.verified, looked_up_at = now(), distance_m = excluded.distance_m`;

const UPSERT_MANUAL_LOCATION = `
insert into tickets.geo_locations
  (cluster, place, status, geom, provider, reason, verified, looked_up_at, distance_m)
values ($1, $7, 'manual', st_setsrid(st_makepoint($3::float8, $2::float8), 4326), 'manual', $4, $5, now(),
        $6)
on conflict (cluster, place) do update set
  status = 'manual', geom = excluded.geom, provider = 'manual', reason = excluded.reason,
  verified = excluded.verified, looked_up_at = now(), distance_m = excluded.distance_m`;

const SET_VERIFIED_CLUSTER = `update tickets.geo_clusters set verified = $2 where cluster = $1`;

const SET_VERIFIED_LOCATION =
  `update tickets.geo_locations set verified = $2 where cluster = $1 and place = $3`;

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
  const firstLine = csv.split("\n", 1)[0]!;
  if (firstLine.includes(";") && !firstLine.includes(",")) {
    // A spreadsheet's regional CSV (before: csv-parse's words about a quote, or "no kind").
    throw new Error(
      `Cannot read ${name}: its columns are separated by semicolons; export it as CSV with ` +
        `commas (and points for decimals) (${expected})`,
    );
  }
  let missing: string[] = [];
  let headed = false;
  let records: Record<string, string>[];
  try {
    records = parse(csv, {
      // Any case, as a change file's header (before: "KIND,…" was refused as having no "kind").
      columns: (header: string[]) => {
        headed = true;
        const names = header.map((name) => name.toLowerCase());
        missing = REQUIRED.filter((c) => !names.includes(c));
        return names;
      },
      bom: true,
      skip_empty_lines: true,
      trim: true,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot read ${name}: ${reason} (${expected})`);
  }
  // An empty file (or blank lines only): before, "0 changed, 0 unchanged, 0 new", exit 0.
  if (!headed) throw new Error(`Cannot read ${name}: it is empty (${expected})`);
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
 * Imports a reviewed sheet, comparing each row with what the gazetteer holds: coordinates at the
 * 6 decimals the export writes, `status` and `verified` (the other columns are not compared, so
 * `looked_up_at` may be in EAT or, as sheets exported before, in UTC):
 *
 * - a row as the gazetteer holds it is left exactly as it is (status, source, time);
 * - a row whose coordinates changed, whose status changed to `manual`, or that is new becomes a
 *   curated (`manual`) entry with the sheet's `verified` flag (true when empty);
 * - a row whose only change is `verified` gets that flag and keeps its status and source;
 * - a status changed to anything but `manual` is refused: an import only curates.
 *
 * Rows without coordinates that would need them are skipped. A stored point gets `distance_m`
 * from where the geocoder's guard measures it (null when that is unknown), and a warning when
 * it is beyond the guard. Ticket geometry is re-resolved when something was stored. Bad rows
 * (and a row the sheet repeats) are reported with their line, and then nothing is stored.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, importGazetteer } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const sheet = "kind,cluster,place,lat,lon,verified\ncluster,Quarry Road,,-1.2780,36.8390,true\n";
 * const report = await importGazetteer(db, sheet);
 * for (const e of report.errors) console.error(`line ${e.line}: ${e.reason}`);
 * console.log(`${report.changed} changed, ${report.added} new, ${report.resolved} tickets moved`);
 * await db.close();
 * ```
 */
export async function importGazetteer(
  db: Database,
  csv: string,
  options: ImportOptions = {},
): Promise<ImportReport> {
  const records = readSheet(csv, options.name ?? "the gazetteer sheet");
  const { errors, stored } = await db.transaction(async (tx) => {
    const held = await heldRows(tx);
    const { planned, errors } = planRows(records, held);
    if (errors.length > 0) return { errors }; // all or nothing: fix the sheet first
    return { errors, stored: await storeRows(tx, held, planned) };
  });
  if (stored === undefined) {
    return { changed: 0, unchanged: 0, added: 0, skipped: 0, errors, warnings: [], resolved: 0 };
  }
  const { counts, warnings, writes } = stored;
  const resolved = writes > 0 ? await resolveGeometry(db, Object.values(DATASETS)) : 0;
  return { ...counts, errors, warnings, resolved };
}

/** A sheet row read and set against the gazetteer, with the line it was read from. */
interface PlannedRow {
  line: number;
  row: SheetRow;
  action: Action;
}

/**
 * Reads each record of the sheet and sets it against the gazetteer: what importing it does, or
 * why it cannot be imported (a row that cannot be read, one the sheet repeats, a refused change).
 */
function planRows(
  records: Record<string, string>[],
  held: Map<string, ExportRow>,
): { planned: PlannedRow[]; errors: ImportReport["errors"] } {
  const planned: PlannedRow[] = [];
  const errors: ImportReport["errors"] = [];
  // The line each row was first read from, by its cluster's name in any case (nameKey): two
  // spellings of one cluster place the same tickets, so one of them would be ignored unsaid.
  const lines = new Map<string, { line: number; cluster: string }>();
  records.forEach((r, i) => {
    const line = i + 2;
    if (Object.values(r).every((v) => v === "")) return; // a spreadsheet's empty row
    const row = readRow(r);
    if ("error" in row) return void errors.push({ line, reason: row.error });
    const folded = keyOf({ ...row, cluster: nameKey(row.cluster) });
    const first = lines.get(folded);
    if (first !== undefined) {
      const spelt = first.cluster === row.cluster ? "" : ` (spelt "${first.cluster}" there)`;
      return void errors.push({
        line,
        reason: `repeats ${describe(row)} of line ${first.line}${spelt}: keep one of the two`,
      });
    }
    lines.set(folded, { line, cluster: row.cluster });
    const action = compare(row, held.get(keyOf(row)));
    if (typeof action !== "string") return void errors.push({ line, reason: action.error });
    planned.push({ line, row, action });
  });
  return { planned, errors };
}

/**
 * Runs each planned row's statement (if any), counting the rows by what they did and measuring
 * each stored point against the geocoder's guard. Returns the counts, the warnings and how many
 * statements ran.
 */
async function storeRows(
  tx: SqlSession,
  held: Map<string, ExportRow>,
  planned: PlannedRow[],
): Promise<{
  counts: Pick<ImportReport, "changed" | "unchanged" | "added" | "skipped">;
  warnings: ImportReport["warnings"];
  writes: number;
}> {
  const counts = { changed: 0, unchanged: 0, added: 0, skipped: 0 };
  const warnings: ImportReport["warnings"] = [];
  const measure = await guard(tx, held, planned);
  let writes = 0;
  for (const { line, row, action } of planned) {
    counts[COUNTS_AS[action]]++;
    const stores = action === "curate" || action === "add";
    const measured = stores ? measure(row) : undefined;
    if (measured?.beyond) warnings.push({ line, reason: measured.beyond });
    const write = writeFor(action, row, measured?.distance ?? null);
    if (write === undefined) continue;
    await tx.query(write.sql, write.params);
    writes++;
  }
  const stored = planned.filter((p) => p.action === "curate" || p.action === "add");
  return { counts, warnings: [...warnings, ...await placingNone(tx, stored)], writes };
}

/** Warnings named one by one before the rest are counted in one line. */
const NAMED_WARNINGS = 10;

/** Every (cluster, place) the tickets have; a cluster alone has place null. */
const TICKET_PLACES = `select distinct cluster, place from (${
  unionOf(Object.values(DATASETS), "cluster, place", "cluster is not null")
}) t`;

/**
 * Stored rows that name no ticket's cluster (by {@linkcode nameKey}: `BAMBURI` places the
 * tickets of `Bamburi`) or (cluster, place): kept (a ticket may come), but they place nothing,
 * which a warning says, with the spelling the tickets use when only a place's case differs. The
 * first {@linkcode NAMED_WARNINGS} are named, the rest counted.
 */
async function placingNone(
  tx: SqlSession,
  stored: PlannedRow[],
): Promise<ImportReport["warnings"]> {
  if (stored.length === 0) return [];
  // A cluster by its key, as geometry resolution finds it (BAMBURI places Bamburi's tickets).
  const clusters = new Set<string>();
  const places = new Map<string, string>(); // cluster key + lower-case place → the place
  for (const t of await tx.query<{ cluster: string; place: string | null }>(TICKET_PLACES)) {
    clusters.add(nameKey(t.cluster));
    if (t.place !== null) {
      places.set(`${nameKey(t.cluster)}\u0000${t.place.toLowerCase()}`, t.place);
    }
  }
  const none = stored.flatMap(({ line, row }) => {
    if (!clusters.has(nameKey(row.cluster))) {
      return [{ line, reason: `cluster "${row.cluster}" is no ticket's cluster` }];
    }
    if (row.kind !== "location") return [];
    const place = places.get(`${nameKey(row.cluster)}\u0000${row.place.toLowerCase()}`);
    if (place === row.place) return [];
    const hint = place === undefined ? "" : ` (the tickets write "${place}")`;
    return [{ line, reason: `${describe(row)} is no ticket's place${hint}` }];
  });
  const named = none.slice(0, NAMED_WARNINGS)
    .map((w) => ({ ...w, reason: `${w.reason}: stored, it places no ticket` }));
  if (none.length <= NAMED_WARNINGS) return named;
  const rest = none.length - NAMED_WARNINGS;
  return [...named, {
    line: none[NAMED_WARNINGS]!.line,
    reason: `and ${rest} more row(s) from here on name no ticket's cluster or place`,
  }];
}

/** How a sheet writes `verified`: true, or false (empty: left as the gazetteer holds it). */
const TRUE_WORD = /^(true|t|1|yes|y)$/i;
const FALSE_WORD = /^(false|f|0|no|n)$/i;

/** How a message names a row: `location "Kenol Road" in cluster "Bamburi"`, `cluster "Bamburi"`. */
function describe(row: { kind: string; cluster: string; place: string }): string {
  return row.kind === "location"
    ? `location "${row.place}" in cluster "${row.cluster}"`
    : `cluster "${row.cluster}"`;
}

type Point = { lat: number; lon: number };

/**
 * Measures a stored row's point as the geocoder's wrong-city guard does, against the gazetteer as
 * this import leaves it: a location from its cluster's centroid (a `hit` or `manual` cluster, as
 * ticket geometry falls back to; a cluster the sheet curates counts with its new point), a
 * cluster from its tickets' city centre. Returns the distance in metres (null when there is
 * nothing to measure from) and, beyond the guard, the warning.
 */
async function guard(
  tx: SqlSession,
  held: Map<string, ExportRow>,
  planned: { row: SheetRow; action: Action }[],
): Promise<(row: SheetRow) => { distance: number | null; beyond?: string }> {
  const centroids = new Map<string, Point>();
  for (const h of held.values()) {
    if (h.kind === "cluster" && (h.status === "hit" || h.status === "manual") && h.lat !== null) {
      centroids.set(h.cluster, { lat: Number(h.lat), lon: Number(h.lon) });
    }
  }
  for (const { row, action } of planned) {
    if (row.kind === "cluster" && (action === "curate" || action === "add")) {
      centroids.set(row.cluster, { lat: row.lat!, lon: row.lon! });
    }
  }
  const cities = await clusterCityCentres(tx);
  return (row) => {
    const location = row.kind === "location";
    const city = location ? undefined : cities.get(row.cluster);
    const from = location ? centroids.get(row.cluster) : city;
    if (from === undefined) return { distance: null };
    const point = { lat: row.lat!, lon: row.lon! };
    const distance = Math.round(distanceM(from, point));
    const limit = location ? LOCATION_GUARD_M : CLUSTER_GUARD_M;
    if (distance <= limit) return { distance };
    const swapped = distanceM(from, { lat: point.lon, lon: point.lat }) <= limit;
    return {
      distance,
      beyond:
        `${describe(row)} is ${(distance / 1000).toFixed(1)} km from ${
          location ? "its cluster's centroid" : `the ${city!.name} city centre`
        } (the geocoder's guard: ${limit / 1000} km); stored as curated` +
        (swapped ? ": lat and lon swapped?" : ""),
    };
  };
}

/** One row of the sheet, read. */
interface SheetRow {
  kind: "cluster" | "location";
  cluster: string;
  /** Empty for a cluster. */
  place: string;
  /** Both coordinates, or neither. */
  lat: number | null;
  lon: number | null;
  /** Empty when the sheet has no status. */
  status: string;
  /** Undefined when the sheet leaves it empty. */
  verified: boolean | undefined;
  reason: string;
}

/**
 * What importing a row does: nothing (`unchanged`; `skipped`: it has no coordinates to store),
 * set its `verified` flag only (`verify`), or store it as curated (`curate` a row the gazetteer
 * holds, `add` a new one).
 */
type Action = "unchanged" | "skipped" | "verify" | "curate" | "add";

/** The count in {@linkcode ImportReport} each action adds to. */
const COUNTS_AS = {
  unchanged: "unchanged",
  skipped: "skipped",
  verify: "changed",
  curate: "changed",
  add: "added",
} as const satisfies Record<Action, keyof ImportReport>;

function keyOf(row: { kind: string; cluster: string; place: string }): string {
  return `${row.kind}\t${row.cluster}\t${row.place}`;
}

/** The row, or why it cannot be read. */
function readRow(r: Record<string, string>): SheetRow | { error: string } {
  const error = (reason: string) => ({ error: reason });
  if (!r.cluster) return error("has no cluster");
  if (r.kind !== "cluster" && r.kind !== "location") {
    return error(`has kind "${r.kind}": expected cluster or location`);
  }
  if (r.kind === "location" && !r.place) return error("is a location without a place");
  // Before: the place was dropped and the row moved the whole cluster's centroid.
  if (r.kind === "cluster" && r.place) {
    return error(`is a cluster with a place "${r.place}": write kind location for a place`);
  }
  let lat: number | null = null;
  let lon: number | null = null;
  if (r.lat || r.lon) {
    for (const column of ["lat", "lon"] as const) {
      if (r[column] && !Number.isFinite(Number(r[column]))) {
        return error(`has ${column} "${r[column]}": not a number`);
      }
    }
    lat = Number(r.lat);
    lon = Number(r.lon);
    if (!(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180) || !r.lat || !r.lon) {
      return error(`has coordinates out of range: "${r.lat}", "${r.lon}"`);
    }
  }
  const status = r.status ?? "";
  if (status !== "" && !STATUSES.includes(status)) {
    return error(`has status "${status}": expected hit, miss, rejected or manual`);
  }
  // Before: any other word (maybe, ok) was read as false without a word.
  if (r.verified && !TRUE_WORD.test(r.verified) && !FALSE_WORD.test(r.verified)) {
    return error(`has verified "${r.verified}": expected true or false (or empty)`);
  }
  return {
    kind: r.kind,
    cluster: r.cluster,
    place: r.kind === "location" ? r.place! : "",
    lat,
    lon,
    status,
    verified: r.verified === undefined || r.verified === ""
      ? undefined
      : TRUE_WORD.test(r.verified),
    reason: r.reason ?? "",
  };
}

/** What importing the row does, set against the gazetteer's row (if any); or why it cannot. */
function compare(row: SheetRow, held: ExportRow | undefined): Action | { error: string } {
  if (held === undefined) {
    if (row.status !== "" && row.status !== "manual") {
      return {
        error: `has status "${row.status}" but is not in the gazetteer: an import only stores ` +
          `curated entries, so write manual or leave the status empty`,
      };
    }
    return row.lat === null ? "skipped" : "add";
  }
  const statusChanged = row.status !== "" && row.status !== held.status;
  if (statusChanged && row.status !== "manual") {
    // A curated row the sheet still shows as the provider's: the sheet is older than the
    // curation, and "write manual" (the advice before) would overwrite the newer point.
    if (held.status === "manual") {
      return {
        error: `has status "${row.status}" where the gazetteer holds "manual" (curated since ` +
          `this sheet was exported?): export the sheet again and edit that, or write manual to ` +
          `store this row's point`,
      };
    }
    return {
      error: `has status "${row.status}" where the gazetteer holds "${held.status}": an ` +
        `import only stores curated entries, so write manual, or "${held.status}" to leave it`,
    };
  }
  const sameCoordinates = row.lat === null || held.lat === null
    ? row.lat === null && held.lat === null
    : sameAt(row.lat, held.lat) && sameAt(row.lon!, held.lon!);
  if (sameCoordinates && !statusChanged) {
    return row.verified === undefined || row.verified === held.verified ? "unchanged" : "verify";
  }
  if (row.lat === null) {
    return statusChanged ? { error: `has status "manual" but no coordinates` } : "skipped";
  }
  return "curate";
}

/** The statement an action runs, if any. */
function writeFor(
  action: Action,
  row: SheetRow,
  distance: number | null,
): { sql: string; params: unknown[] } | undefined {
  const location = row.kind === "location";
  if (action === "verify") {
    return {
      sql: location ? SET_VERIFIED_LOCATION : SET_VERIFIED_CLUSTER,
      params: location ? [row.cluster, row.verified, row.place] : [row.cluster, row.verified],
    };
  }
  if (action !== "curate" && action !== "add") return undefined;
  const reason = row.reason || "imported from the review sheet";
  const params = [row.cluster, row.lat, row.lon, reason, row.verified ?? true, distance];
  return {
    sql: location ? UPSERT_MANUAL_LOCATION : UPSERT_MANUAL_CLUSTER,
    params: location ? [...params, row.place] : params,
  };
}

/** Whether a sheet's coordinate is the gazetteer's, as the export writes it. */
function sameAt(value: number, exported: string): boolean {
  return Number(value.toFixed(DECIMALS)) === Number(exported);
}

/** The gazetteer as the export writes it, by kind, cluster and place. */
async function heldRows(tx: SqlSession): Promise<Map<string, ExportRow>> {
  const rows = await tx.query<ExportRow>(EXPORT);
  return new Map(rows.map((r) => [keyOf(r), r]));
}
