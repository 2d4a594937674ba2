/**
 * Geocoding: one coarse point per cluster, then a precise point per distinct (cluster, place)
 * of open tickets, every outcome cached so a place is never paid for twice, with a wrong-city
 * guard. A pure function over the database and a geocoder port.
 *
 * @module
 */

import { type Dataset, DATASETS } from "./datasets.ts";
import { GeocoderError } from "./ports/mod.ts";
import type { Database, GeocodeAnswer, GeocodeQuery, Geocoder, SqlSession } from "./ports/mod.ts";
import { ident } from "./_sql.ts";

/**
 * Cluster codes the feed uses that no geocoder knows.
 *
 * @example Usage
 * ```ts
 * import { CLUSTER_ALIASES } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const cluster = "QOA";
 * assert.equal(CLUSTER_ALIASES[cluster] ?? cluster, "Quarry Road"); // what is looked up
 * ```
 */
export const CLUSTER_ALIASES: Readonly<Record<string, string>> = {
  QOA: "Quarry Road",
  PTMP: "Pipeline",
};

/** Service cities by the feed's (lowercased) region. */
export const CITIES: Readonly<
  Record<string, { name: string; country: string; lat: number; lon: number }>
> = {
  nairobi: { name: "Nairobi", country: "ke", lat: -1.2864, lon: 36.8172 },
  mombasa: { name: "Mombasa", country: "ke", lat: -4.0435, lon: 39.6682 },
  kampala: { name: "Kampala", country: "ug", lat: 0.3476, lon: 32.5825 },
};

/** A location more than this far from its cluster centroid is in the wrong place. */
export const LOCATION_GUARD_M = 25_000;
/** A cluster centroid more than this far from its city centre is in the wrong city. */
export const CLUSTER_GUARD_M = 60_000;
/**
 * Places in a row the provider did not answer (no connection, a timeout or a 5xx, each after the
 * adapter's retries) that stop a run as "provider unreachable": the endpoint is down or wrong, and
 * going on would only wait out every remaining place.
 */
export const UNREACHABLE_AFTER = 3;
/**
 * Places in a row that failed in any other way (a 4xx that is not a refusal, a 429 after every
 * retry, an answer that is no JSON) that stop a run as "provider failing": a wrong path or a
 * proxy answering errors would otherwise be asked once for every remaining place. A failure of
 * one query alone is not cached and is asked again next run.
 */
export const FAILING_AFTER = 10;

/**
 * The lock a run that looks places up holds (`Database.tryLock`): two at once would each pay for
 * every place.
 */
export const GEOCODE_LOCK = "fleettickets:geocode";

/** Options for {@linkcode geocode}. */
export interface GeocodeOptions {
  /** `clusters` (coarse, one per cluster) or `locations` (precise, open tickets). */
  mode: "clusters" | "locations";
  /** Look places up and write (default false: only count what would be looked up). */
  apply?: boolean;
  /** Most paid calls this run (shared by every dataset). */
  budget?: number;
  /** Calls of the budget an earlier step of this run made (clusters before locations). */
  budgetSpent?: number;
  /** Datasets whose tickets are geocoded (default all: one gazetteer, one budget). */
  datasets?: readonly Dataset[];
  /** Look up again the places cached as misses. */
  retryMisses?: boolean;
  /** Stops between calls. */
  signal?: AbortSignal;
  /** Called after each lookup with the report so far (progress for a person). */
  onLookup?: (report: GeocodeReport) => void;
}

/** What a geocode run did. */
export interface GeocodeReport {
  /** Which gazetteer this run filled. */
  mode: "clusters" | "locations";
  /** Whether places were looked up (false: a dry run that only counted). */
  apply: boolean;
  /** The provider used, when one was configured. */
  provider: string | null;
  /** Distinct places (clusters, or cluster + place) the tickets need. */
  places: number;
  /** Tickets sharing those places. */
  tickets: number;
  /** Places already answered in the gazetteer (never paid for again). */
  cached: number;
  /** Places that still need a lookup (before the budget). */
  toLookUp: number;
  /** Locations waiting for their cluster's centroid (geocode clusters first). */
  waitingForCluster: number;
  /** Paid calls made. */
  calls: number;
  /** Answers accepted (within the guard). */
  hits: number;
  /** Places the provider does not know (cached, not asked again). */
  misses: number;
  /** Answers refused by the wrong-city guard (cached with the distance). */
  rejected: number;
  /**
   * Why the run stopped early: budget, a terminal provider error (`provider`), the provider not
   * answering {@linkcode UNREACHABLE_AFTER} places in a row (`provider unreachable`), or failing
   * {@linkcode FAILING_AFTER} in a row in other ways (`provider failing`), a signal.
   */
  stoppedBy?: string;
  /** Tickets whose geometry changed after the run. */
  resolved: number;
  /** Transient failures (place left for the next run). */
  failures: number;
  /** The last provider error, when there was one (never contains the key). */
  error?: string;
  /** Set when calls were made and every one failed: the provider, its host, the last error. */
  failed?: string;
  /** The last error was the provider's rate limit or quota (HTTP 429 or 402), not a setting. */
  limited?: true;
}

interface Candidate {
  cluster: string;
  place: string | null;
  region: string | null;
  tickets: number;
  cached: boolean;
  centroid: { lat: number; lon: number } | null;
}

/** Great-circle distance in metres (spherical Earth, ample for a 25 km guard). */
export function distanceM(a: { lat: number; lon: number }, b: { lat: number; lon: number }) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The rows of `datasets`' tables, `columns` of those matching `where`, one query (union all). */
export function unionOf(
  datasets: readonly Dataset[],
  columns: string,
  where = "true",
): string {
  return datasets.map((d) => `select ${columns} from ${ident(d.table)} where ${where}`)
    .join(" union all ");
}

/**
 * The city centre the wrong-city guard measures each cluster from ({@linkcode CLUSTER_GUARD_M}),
 * by cluster: the service city of its tickets' region, as `geocode` looks it up. A cluster whose
 * tickets name no known city is not in the map.
 */
export async function clusterCityCentres(
  db: SqlSession,
  datasets: readonly Dataset[] = Object.values(DATASETS),
): Promise<Map<string, { name: string; lat: number; lon: number }>> {
  const rows = await db.query<{ cluster: string; region: string | null }>(
    `select ${CLUSTER_NAME} as cluster, min(region) as region
     from (${unionOf(datasets, "cluster, region")}) t
     where cluster is not null group by tickets.name_key(cluster)`,
  );
  const centres = new Map<string, { name: string; lat: number; lon: number }>();
  for (const r of rows) {
    const city = CITIES[r.region?.toLowerCase() ?? ""];
    if (city) centres.set(r.cluster, city);
  }
  return centres;
}

/**
 * A cluster as its tickets spell it most (a tie: the first in code-point order): the candidates
 * are grouped by tickets.name_key, as geometry resolution finds the cache (before: one lookup,
 * paid, per spelling of one cluster: a tester's 9 of 30).
 */
const CLUSTER_NAME = `mode() within group (order by t.cluster collate "C")`;

/**
 * The cache's row for `t.cluster` by tickets.name_key (of two spellings, the ticket's own), of
 * those `where` allows.
 */
const cachedCluster = (where = "true") => `
  select c.status, c.geom from tickets.geo_clusters c
  where tickets.name_key(c.cluster) = tickets.name_key(t.cluster) and ${where}
  order by c.cluster = t.cluster desc, c.cluster collate "C" limit 1`;

async function clusterCandidates(
  db: Database,
  datasets: readonly Dataset[],
  retryMisses: boolean,
): Promise<Candidate[]> {
  const rows = await db.query<
    { cluster: string; region: string | null; tickets: number; status: string | null }
  >(
    `select ${CLUSTER_NAME} as cluster, min(t.region) as region, count(*)::int as tickets,
            g.status
     from (${unionOf(datasets, "cluster, region")}) t
     left join lateral (${cachedCluster()}) g on true
     where t.cluster is not null
     group by tickets.name_key(t.cluster), g.status
     order by tickets desc, cluster`,
  );
  return rows.map((r) => ({
    cluster: r.cluster,
    place: null,
    region: r.region,
    tickets: r.tickets,
    cached: r.status !== null && !(retryMisses && r.status === "miss"),
    centroid: null,
  }));
}

async function locationCandidates(
  db: Database,
  datasets: readonly Dataset[],
  retryMisses: boolean,
): Promise<Candidate[]> {
  const rows = await db.query<{
    cluster: string;
    place: string;
    region: string | null;
    tickets: number;
    status: string | null;
    lat: number | null;
    lon: number | null;
  }>(
    `select ${CLUSTER_NAME} as cluster, t.place, min(t.region) as region,
            count(*)::int as tickets, l.status, st_y(c.geom) as lat, st_x(c.geom) as lon
     from (${unionOf(datasets, "cluster, place, region", "is_actionable")}) t
     left join lateral (
       select l.status from tickets.geo_locations l
       where tickets.name_key(l.cluster) = tickets.name_key(t.cluster) and l.place = t.place
       order by l.cluster = t.cluster desc, l.cluster collate "C" limit 1
     ) l on true
     left join lateral (${cachedCluster("c.status in ('hit', 'manual')")}) c on true
     where t.cluster is not null and t.place is not null
     group by tickets.name_key(t.cluster), t.place, l.status, c.geom
     order by tickets desc, cluster, t.place`,
  );
  return rows.map((r) => ({
    cluster: r.cluster,
    place: r.place,
    region: r.region,
    tickets: r.tickets,
    cached: r.status !== null && !(retryMisses && r.status === "miss"),
    centroid: r.lat === null || r.lon === null ? null : { lat: r.lat, lon: r.lon },
  }));
}

function queryFor(candidate: Candidate): GeocodeQuery {
  const city = CITIES[candidate.region?.toLowerCase() ?? ""];
  const clusterName = CLUSTER_ALIASES[candidate.cluster.toUpperCase()] ?? candidate.cluster;
  const parts = candidate.place === null
    ? [clusterName, city?.name]
    : [candidate.place, clusterName, city?.name];
  const near = candidate.centroid ?? (city ? { lat: city.lat, lon: city.lon } : undefined);
  return {
    text: [...parts.filter((p): p is string => !!p), city ? countryName(city.country) : ""]
      .filter((p) => p !== "")
      .join(", "),
    countryCodes: city ? [city.country] : ["ke", "ug"],
    ...(near ? { near } : {}),
  };
}

function countryName(code: string): string {
  return code === "ug" ? "Uganda" : "Kenya";
}

const UPSERT_CLUSTER = `
insert into tickets.geo_clusters
  (cluster, query, status, geom, provider, reason, distance_m, verified, looked_up_at)
values ($1, $2, $3, case when $4::float8 is null then null
        else st_setsrid(st_makepoint($5::float8, $4::float8), 4326) end, $6, $7, $8, false, now())
on conflict (cluster) do update set
  query = excluded.query, status = excluded.status, geom = excluded.geom,
  provider = excluded.provider, reason = excluded.reason, distance_m = excluded.distance_m,
  verified = false, looked_up_at = excluded.looked_up_at
where tickets.geo_clusters.status <> 'manual'`;

const UPSERT_LOCATION = `
insert into tickets.geo_locations
  (cluster, place, query, status, geom, provider, reason, distance_m, verified, looked_up_at)
values ($1, $9, $2, $3, case when $4::float8 is null then null
        else st_setsrid(st_makepoint($5::float8, $4::float8), 4326) end, $6, $7, $8, false, now())
on conflict (cluster, place) do update set
  query = excluded.query, status = excluded.status, geom = excluded.geom,
  provider = excluded.provider, reason = excluded.reason, distance_m = excluded.distance_m,
  verified = false, looked_up_at = excluded.looked_up_at
where tickets.geo_locations.status <> 'manual'`;

/**
 * Re-resolves the geometry of the given datasets' tickets (only those last written by `files`,
 * when given); returns rows changed.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, INC, resolveGeometry } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const all = await resolveGeometry(db); // every dataset, every ticket
 * const some = await resolveGeometry(db, [INC], { files: ["2026-06-15T17-00-00.csv"] });
 * console.log(all, some);
 * await db.close();
 * ```
 */
export async function resolveGeometry(
  db: Database,
  datasets: readonly Dataset[] = Object.values(DATASETS),
  options: { files?: readonly string[] } = {},
): Promise<number> {
  if (options.files?.length === 0) return 0;
  let changed = 0;
  for (const dataset of datasets) {
    const [row] = await db.query<{ n: number }>(
      `select tickets.resolve_geometry($1::regclass, $2::text[]) as n`,
      [dataset.table, options.files ?? null],
    );
    changed += row?.n ?? 0;
  }
  return changed;
}

/**
 * Places the tickets of every file of `dataset` whose rows are not placed yet: those the run
 * just applied and any an earlier run left (stopped after a file's commit, or its geometry step
 * failed), then marks those files placed, in one transaction
 * (`definitions/91_resolve_applied_geometry.sql`); returns rows changed.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, INC, resolveAppliedGeometry } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * console.log(await resolveAppliedGeometry(db, INC)); // 0 once every applied file is placed
 * await db.close();
 * ```
 */
export async function resolveAppliedGeometry(db: Database, dataset: Dataset): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `select tickets.resolve_applied_geometry($1, $2::regclass) as n`,
    [dataset.name, dataset.table],
  );
  return row?.n ?? 0;
}

/**
 * Geocodes what the tickets need and is not cached yet, within the budget; writes each answer
 * as it comes (a stopped run keeps everything it paid for), then re-resolves ticket geometry.
 * Stops when the provider refuses (key, quota), leaves {@linkcode UNREACHABLE_AFTER} places in a
 * row unanswered, or fails {@linkcode FAILING_AFTER} in a row otherwise; `failed` says so when
 * every call failed. `geocoder` may be omitted for a dry run.
 *
 * @example Usage
 * ```ts ignore
 * import { createLocationIqGeocoder, createPgliteDatabase, geocode } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const plan = await geocode(db, undefined, { mode: "clusters" }); // counts only, no calls
 * console.log(`${plan.toLookUp} cluster(s) to look up`);
 * const geocoder = createLocationIqGeocoder({ apiKey: Deno.env.get("GEOCODER_API_KEY") });
 * const report = await geocode(db, geocoder, { mode: "clusters", apply: true, budget: 200 });
 * console.log(report.calls, report.hits);
 * await db.close();
 * ```
 */
export async function geocode(
  db: Database,
  geocoder: Geocoder | undefined,
  options: GeocodeOptions,
): Promise<GeocodeReport> {
  const { mode, apply = false, retryMisses = false } = options;
  const datasets = options.datasets ?? Object.values(DATASETS);
  const candidates = mode === "clusters"
    ? await clusterCandidates(db, datasets, retryMisses)
    : await locationCandidates(db, datasets, retryMisses);
  const pending = candidates.filter((c) => !c.cached && (mode === "clusters" || c.centroid));
  const report = countPlaces(options, geocoder, candidates, pending);
  if (!apply) return report;
  if (geocoder === undefined && pending.length > 0) {
    throw new TypeError("Cannot geocode with --apply: no geocoder is configured");
  }
  await lookUpAll(db, geocoder, pending, report, options);
  report.resolved = await resolveGeometry(db, datasets);
  if (report.calls > 0 && report.failures === report.calls) {
    report.failed = `all ${report.calls} calls to ${
      geocoder!.label ?? geocoder!.provider
    } failed; the last: ${report.error}`;
  }
  return report;
}

/** The report before any call: what the tickets need, what is cached, what is left to look up. */
function countPlaces(
  options: GeocodeOptions,
  geocoder: Geocoder | undefined,
  candidates: Candidate[],
  pending: Candidate[],
): GeocodeReport {
  const { mode, apply = false } = options;
  return {
    mode,
    apply,
    provider: geocoder?.provider ?? null,
    places: candidates.length,
    tickets: candidates.reduce((n, c) => n + c.tickets, 0),
    cached: candidates.filter((c) => c.cached).length,
    toLookUp: pending.length,
    waitingForCluster: candidates.filter((c) => !c.cached && !c.centroid && mode === "locations")
      .length,
    calls: 0,
    hits: 0,
    misses: 0,
    rejected: 0,
    resolved: 0,
    failures: 0,
  };
}

/** Failures in a row: places the provider did not answer, and places that failed however. */
interface Streak {
  unanswered: number;
  failing: number;
}

/**
 * Looks the pending places up one by one, writing each answer as it comes, until they are done
 * or the run must stop (a signal, the budget, the provider refusing or failing in a row).
 */
async function lookUpAll(
  db: Database,
  geocoder: Geocoder | undefined,
  pending: Candidate[],
  report: GeocodeReport,
  options: GeocodeOptions,
): Promise<void> {
  const { mode, signal } = options;
  const budget = options.budget ?? Infinity;
  const spent = options.budgetSpent ?? 0;
  const streak: Streak = { unanswered: 0, failing: 0 };
  for (const candidate of pending) {
    if (signal?.aborted) {
      report.stoppedBy = "signal";
      break;
    }
    if (spent + report.calls >= budget) {
      report.stoppedBy = `budget of ${budget} calls`;
      break;
    }
    const query = queryFor(candidate);
    let answer;
    report.calls++;
    try {
      answer = await geocoder!.search(query);
    } catch (error) {
      if (stopsRun(report, streak, error)) break;
      continue; // transient: not cached, so the next run tries this place again
    }
    streak.unanswered = 0;
    streak.failing = 0;
    const outcome = judge(answer, candidate, query, mode);
    report[outcome.status === "hit" ? "hits" : outcome.status === "miss" ? "misses" : "rejected"]++;
    await storeOutcome(db, geocoder!.provider, mode, candidate, query, answer, outcome);
    options.onLookup?.(report);
  }
}

/**
 * Counts a failed lookup; true when the run must stop: the provider refused (key, quota), or
 * left {@linkcode UNREACHABLE_AFTER} places in a row unanswered, or failed
 * {@linkcode FAILING_AFTER} in a row.
 */
function stopsRun(report: GeocodeReport, streak: Streak, error: unknown): boolean {
  if (error instanceof GeocoderError && (error.status === 429 || error.status === 402)) {
    report.limited = true;
  } else delete report.limited;
  if (error instanceof GeocoderError && error.terminal) {
    report.stoppedBy = "provider";
    report.error = error.message;
    return true;
  }
  report.failures++;
  report.error = error instanceof Error ? error.message : String(error);
  streak.unanswered = isUnanswered(error) ? streak.unanswered + 1 : 0;
  streak.failing++;
  if (streak.unanswered >= UNREACHABLE_AFTER || streak.failing >= FAILING_AFTER) {
    report.stoppedBy = streak.unanswered >= UNREACHABLE_AFTER
      ? "provider unreachable"
      : "provider failing";
    return true;
  }
  return false;
}

/** What an answer is worth: a hit, a miss, or a hit the wrong-city guard rejects. */
interface Outcome {
  status: "hit" | "miss" | "rejected";
  /** The place's label, or why it was rejected. */
  reason: string | null;
  /** Metres from the reference point (the city centre or the cluster centroid). */
  distance: number | null;
}

/** Holds a hit against the wrong-city guard. */
function judge(
  answer: GeocodeAnswer,
  candidate: Candidate,
  query: GeocodeQuery,
  mode: GeocodeOptions["mode"],
): Outcome {
  if (answer.kind !== "hit") return { status: "miss", reason: null, distance: null };
  const outside = outsideCountries(answer, query.countryCodes);
  if (outside !== undefined) {
    return { status: "rejected", reason: `${outside}: ${answer.label}`, distance: null };
  }
  const reference = mode === "clusters"
    ? CITIES[candidate.region?.toLowerCase() ?? ""]
    : candidate.centroid;
  const guard = mode === "clusters" ? CLUSTER_GUARD_M : LOCATION_GUARD_M;
  const distance = reference ? Math.round(distanceM(reference, answer)) : null;
  if (distance !== null && distance > guard) {
    const reason = `${(distance / 1000).toFixed(1)} km from the ${
      mode === "clusters" ? "city centre" : "cluster centroid"
    } (limit ${guard / 1000} km): ${answer.label}`;
    return { status: "rejected", reason, distance };
  }
  return { status: "hit", reason: answer.label, distance };
}

/**
 * The bounds a looked-up point must fall in: each country the lookups are restricted to, with
 * ~20 km to spare. A cluster whose region is no city of {@linkcode CITIES} has no centre to
 * measure from: these bounds are then its only guard.
 */
const COUNTRY_BOUNDS: Readonly<
  Record<string, { south: number; north: number; west: number; east: number }>
> = {
  ke: { south: -4.9, north: 5.2, west: 33.7, east: 42.1 },
  ug: { south: -1.7, north: 4.4, west: 29.4, east: 35.2 },
};

/**
 * Why a provider's point cannot be the place: off the globe (a provider once answered lat
 * 123.456, lon 536.8, stored and served as GeoJSON), or outside the countries asked for;
 * undefined when it may be.
 */
function outsideCountries(
  point: { lat: number; lon: number },
  countries: readonly string[],
): string | undefined {
  const { lat, lon } = point;
  const at = `${lat}, ${lon}`;
  if (!onGlobe(point)) return `the provider's point ${at} is off the globe`;
  const inside = countries.some((code) => {
    const b = COUNTRY_BOUNDS[code];
    return b === undefined || (lat >= b.south && lat <= b.north && lon >= b.west && lon <= b.east);
  });
  if (inside) return undefined;
  const names = countries.map(countryName).join(" or ");
  return `the provider's point ${at} is outside ${names}`;
}

/** Whether a point is on the globe: latitude -90..90, longitude -180..180. */
function onGlobe({ lat, lon }: { lat: number; lon: number }): boolean {
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
}

/** Caches the outcome in the gazetteer (a manual entry is never overwritten). */
async function storeOutcome(
  db: Database,
  provider: string,
  mode: GeocodeOptions["mode"],
  candidate: Candidate,
  query: GeocodeQuery,
  answer: GeocodeAnswer,
  { status, reason, distance }: Outcome,
): Promise<void> {
  // A point off the globe is kept nowhere: it cannot be stored, exported or drawn.
  const point = answer.kind === "hit" && onGlobe(answer) ? answer : null;
  const params = [
    candidate.cluster,
    query.text,
    status,
    status === "miss" ? null : point?.lat ?? null,
    status === "miss" ? null : point?.lon ?? null,
    provider,
    reason,
    distance,
  ];
  if (mode === "clusters") await db.query(UPSERT_CLUSTER, params);
  else await db.query(UPSERT_LOCATION, [...params, candidate.place]);
}

/** A failure that says the provider is not there: no answer at all, or a server error. */
function isUnanswered(error: unknown): boolean {
  return error instanceof GeocoderError && (error.status === undefined || error.status >= 500);
}
