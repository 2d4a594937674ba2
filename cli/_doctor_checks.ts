/**
 * The checks `doctor` runs, each to ok / warn / fail with one line of remedy. They read and
 * list; they never write, never move a file and never make a paid geocoder call. Private to cli/.
 *
 * @module
 */

import type { Config } from "../app/config.ts";
import { MISSING_KEY, NotSourceFolderError, openStore } from "./_open_store.ts";
import {
  changesFolder,
  changesFolderKind,
  folderRoot,
  noChangesFolder,
} from "./_changes_folder.ts";
import { setsDatabaseUrl } from "./_dot_env_names.ts";
import {
  checkEmbeddedDir,
  checkWritableFolder,
  demoRemedy,
  describePending,
  formatBytes,
  IncompleteDatabaseError,
  incompleteNote,
  openPgliteFolder,
} from "../app/open_database.ts";
import { DatabaseLockedError, hasPgliteDatabase } from "../adapters/pglite_database.ts";
import { connectPostgresDatabase, describeTarget } from "../adapters/postgres_database.ts";
import { type ChangeKey, parseChangeKey, quoteIgnoredKeys } from "../core/change_key.ts";
import { lookElsewhere, quoteCsvFolders } from "../core/csv_elsewhere.ts";
import { type Dataset, DATASETS, INC } from "../core/datasets.ts";
import { MAX_FUTURE_SKEW_MS } from "../core/drain.ts";
import { eatIso } from "../core/eat_time.ts";
import { pendingMigrations, SchemaRefusedError } from "../core/migrate.ts";
import {
  isPermissionDenied,
  ledgerGrantsLacking,
  ownerRoleInstead,
} from "../core/check_read_grants.ts";
import { applyPrivilegesLacking, readOnlyReason } from "../core/check_writes.ts";
import { demoToRead } from "./_config_to_read.ts";
import type { Database, ObjectStore, StoredObject } from "../core/ports/mod.ts";
import { within } from "./_within.ts";

/** One check's outcome. */
export interface Check {
  /** What was checked. */
  name: string;
  /** `ok`, `warn` (works, but look) or `fail` (something will not work). */
  result: "ok" | "warn" | "fail";
  /** What was found. */
  detail: string;
  /** What to do (warn and fail). */
  remedy?: string;
}

const ok = (name: string, detail: string): Check => ({ name, result: "ok", detail });
const warn = (name: string, detail: string, remedy: string): Check => ({
  name,
  result: "warn",
  detail,
  remedy,
});
const fail = (name: string, detail: string, remedy: string): Check => ({
  name,
  result: "fail",
  detail,
  remedy,
});

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The database checks: reachable (and where), PostGIS, migrations; then the clock and EAT. */
export async function checkDatabase(config: Config, now: Date): Promise<Check[]> {
  const checks: Check[] = [];
  const opened: { db?: Database; dir?: string } | undefined = config.databaseUrl === undefined
    ? await openEmbedded(config, checks)
    : { db: await openServer(config, config.databaseUrl, checks) };
  if (opened?.db === undefined) return checks;
  try {
    checks.push(...await databaseChecks(opened.db, config, now, opened.dir));
  } finally {
    await opened.db.close();
  }
  return checks;
}

/** An embedded database opened for the checks, and its folder (PGLITE_DIR's or the demo's). */
interface OpenedEmbedded {
  db: Database;
  dir: string;
}

/**
 * Checks the embedded folder (pushed to `checks`) and opens its database, or the demo's that the
 * reading commands use until there is one; undefined when there is none yet, or it cannot be
 * opened.
 */
async function openEmbedded(config: Config, checks: Check[]): Promise<OpenedEmbedded | undefined> {
  try {
    checkEmbeddedDir(config.pgliteDir);
    // Before: "writable" was said of a read-only folder, and of a path under a file.
    const free = await checkWritableFolder(config.pgliteDir);
    const note = await incompleteNote(config.pgliteDir);
    if (note !== undefined) {
      const detail = new IncompleteDatabaseError(config.pgliteDir, note).message;
      checks.push(fail("embedded directory", detail, "rebuild it as this line says"));
      return undefined;
    }
    const exists = await hasPgliteDatabase(config.pgliteDir);
    const demo = exists ? undefined : await demoToRead(config);
    const detail = `"${config.pgliteDir}" is inside ./.data and writable` +
      (exists ? "" : ' (the database will be created by "ingest --apply" or "migrate")') +
      (free === undefined ? "" : `; ${formatBytes(free)} free on its disk`) +
      (demo === undefined
        ? ""
        : `; until then serve, status, sql, report, db export, gazetteer, geocode and capture ` +
          `use ` +
          `the demo's database "${demo}"`);
    // Before: "writable" of a folder on a full disk (the open then failed).
    checks.push(
      free !== undefined && free < LOW_SPACE_BYTES
        ? warn("embedded directory", `${detail}: nearly full`, LOW_SPACE_REMEDY)
        : ok("embedded directory", detail),
    );
    const demoNote = demo === undefined ? undefined : await incompleteNote(demo);
    if (demoNote !== undefined) {
      const detail = new IncompleteDatabaseError(demo!, demoNote).message;
      checks.push(warn("demo database", detail, 'run "deno task demo" again'));
    }
    // Before: after `demo` alone, no database line at all, though serve and status read the demo's.
    const dir = exists ? config.pgliteDir : demoNote === undefined ? demo : undefined;
    if (dir === undefined) return undefined;
    // The folder is fine (said above); a database there that does not open is the database's
    // failure (before: "fail embedded directory" under "ok embedded directory").
    const db = await openPgliteFolder({ dataDir: dir }).catch((error) => {
      if (error instanceof DatabaseLockedError) throw error;
      checks.push(fail(
        "database",
        message(error),
        "make the folder and its files writable by this user (chown -R, chmod -R u+w, " +
          "chattr -R -i), or set PGLITE_DIR to another folder",
      ));
      return undefined;
    });
    return db === undefined ? undefined : { db, dir };
  } catch (error) {
    if (error instanceof DatabaseLockedError) {
      checks.push(warn("database", message(error), error.heldByServe ? SERVE_REMEDY : HELD_REMEDY));
    } else {
      checks.push(fail(
        "embedded directory",
        message(error),
        "set PGLITE_DIR=.data/<name> (unset it for .data/pglite), or set DATABASE_URL",
      ));
    }
    return undefined;
  }
}

/**
 * Below this much free space doctor warns: a new embedded database takes ~90 MB before it grows
 * (the demo's, 2,000 tickets: 92 MB, half of it WAL).
 */
const LOW_SPACE_BYTES = 256e6;
const LOW_SPACE_REMEDY = "free space on that disk, or set PGLITE_DIR to a folder on another disk";

/** What to do about an embedded database another process holds. */
const HELD_REMEDY = 'run doctor again when that run has finished (a running "deno task serve" ' +
  "holds it until stopped)";

/** A running serve holds the embedded database: no ingest, status, report or sql runs meanwhile. */
const SERVE_REMEDY = "while serve runs no ingest, status, report or sql can use the embedded " +
  "database (it takes one process at a time): stop serve for them, or keep the data in " +
  "PostgreSQL (DATABASE_URL); run doctor again with serve stopped to check the rest";

/** Connects to the PostgreSQL server; undefined (and a failed check) when it cannot. */
async function openServer(
  config: Config,
  databaseUrl: string,
  checks: Check[],
): Promise<Database | undefined> {
  try {
    // The connect every command uses: bounded, and it says what answered (or did not).
    return await connectPostgresDatabase(databaseUrl, {
      connectTimeout: config.connectTimeoutS,
      stallAfterS: config.stallAfterS,
    });
  } catch (error) {
    checks.push(fail(
      "database",
      message(error),
      "check DATABASE_URL (host, port, database, user, password) and that the server is running",
    ));
    return undefined;
  }
}

/** What the opened database says: server, PostGIS, migrations, clock, EAT (in this order). */
async function databaseChecks(
  db: Database,
  config: Config,
  now: Date,
  embeddedDir?: string,
): Promise<Check[]> {
  return [
    await serverCheck(db, config, embeddedDir),
    await postgisCheck(db),
    await migrationsCheck(db, embeddedDir),
    await writesCheck(db),
    await clockCheck(db, now),
    await eatCheck(db),
  ];
}

/** Which PostgreSQL answered, and where. */
async function serverCheck(db: Database, config: Config, embeddedDir?: string): Promise<Check> {
  const [info] = await db.query<{ version: string; database: string; port: number | null }>(
    `select current_setting('server_version') as version, current_database() as database,
            inet_server_port() as port`,
  );
  const dir = embeddedDir ?? config.pgliteDir;
  const place = config.databaseUrl === undefined
    ? `embedded PGlite in "${dir}"${dir === config.pgliteDir ? "" : " (the demo's)"}`
    : describeTarget(config.databaseUrl).replace(/^at /, "");
  return ok("database", `PostgreSQL ${info?.version} at ${place}`);
}

async function postgisCheck(db: Database): Promise<Check> {
  const [postgis] = await db.query<{ installed: string | null; available: string | null }>(
    `select (select extversion from pg_extension where extname = 'postgis') as installed,
            (select default_version from pg_available_extensions where name = 'postgis') as available`,
  );
  if (postgis?.installed) return ok("PostGIS", `version ${postgis.installed}`);
  if (postgis?.available) {
    // PostGIS is not a trusted extension: only a superuser creates it (before: "run migrate",
    // which then failed for a database owner that is not one).
    const [role] = await db.query<{ superuser: boolean }>(
      `select rolsuper as superuser from pg_roles where rolname = current_user`,
    );
    return warn(
      "PostGIS",
      `available (${postgis.available}) but not installed in this database`,
      role?.superuser
        ? 'run "deno task migrate" (it creates the extension)'
        : 'as a superuser, run "create extension postgis;" in this database once (this role ' +
          'is not one, and only a superuser creates PostGIS), then "deno task migrate"',
    );
  }
  return fail(
    "PostGIS",
    "not available on this server",
    "install PostGIS 3 on the server (Debian: apt install postgresql-<version>-postgis-3)",
  );
}

/** The schema's check; `embeddedDir`: the embedded database's folder (the demo's is rebuilt). */
async function migrationsCheck(db: Database, embeddedDir?: string): Promise<Check> {
  try {
    const plan = await pendingMigrations(db);
    const { pending, changedDefinitions } = plan;
    return pending.length + changedDefinitions.length === 0
      ? ok("migrations", `${plan.applied.length} applied, definitions current`)
      : fail(
        "migrations",
        // The words of every command that refuses to run on it.
        `the database has ${describePending(pending, changedDefinitions, 3)}`,
        (embeddedDir && demoRemedy(embeddedDir)) ?? 'run "deno task migrate"',
      );
  } catch (error) {
    if (error instanceof SchemaRefusedError) return fail("migrations", error.found, error.remedy);
    // A role refused the ledgers: the GRANT statements it lacks, as every command that checks
    // the schema names them (before: "restore the released migration files").
    const lacking = await ledgerGrantsLacking(
      db,
      error,
      "to read the schema's ledgers",
      await ownerRoleInstead(db),
    );
    if (lacking !== undefined) {
      return fail("migrations", `not checked: ${lacking}`, "then run doctor again");
    }
    if (isPermissionDenied(error)) return fail("migrations", message(error), GRANT);
    return fail("migrations", message(error), "restore the released migration files");
  }
}

/**
 * Whether the role can write what `ingest --apply` writes (before: doctor passed serve's
 * read-only role, and every applying run then failed). The embedded database has one role.
 */
async function writesCheck(db: Database): Promise<Check> {
  if (db.kind !== "postgres") return ok("writes", "the embedded database's one role");
  const [role] = await db.query<{ name: string }>(`select current_user::text as name`);
  const who = `the database role "${role?.name}"`;
  const remedy = "run ingest as the role that ran migrate (a read-only role is for serve alone)";
  const readOnly = await readOnlyReason(db);
  if (readOnly === "standby") {
    return fail(
      "writes",
      "the server is a read-only standby (in recovery): ingest --apply cannot write",
      "point DATABASE_URL at the primary server",
    );
  }
  if (readOnly === "read-only sessions") {
    return fail(
      "writes",
      `${who} starts every session read only (default_transaction_read_only = on): ingest ` +
        `--apply cannot write`,
      remedy,
    );
  }
  const tables = Object.values(DATASETS).map((d) => d.table);
  const lacking = await applyPrivilegesLacking(db, tables).catch((error) => error as Error);
  if (lacking instanceof Error) {
    // Not there yet (undefined table or schema); any other failure, such as a role refused the
    // schema itself, is what it says (before: "not there yet" for every failure, and the
    // migrate it advised failed on the same refusal).
    const code = (lacking as { code?: unknown }).code;
    if (code === "42P01" || code === "3F000") {
      return warn(
        "writes",
        "not checked: the schema tickets is not there yet",
        'run "deno task migrate"',
      );
    }
    return fail("writes", `${who} cannot be checked: ${message(lacking)}`, remedy);
  }
  if (lacking.length > 0) {
    return fail(
      "writes",
      `${who} cannot write what ingest --apply writes: ${lacking.join(", ")}`,
      remedy,
    );
  }
  return ok("writes", `${who} can write the tickets and the run record`);
}

const GRANT = `as the schema owner, grant this role what the README's "read-only role" lists`;

/**
 * The rows of `text`; `"denied"` when the role may not read what it reads; none when it fails
 * otherwise (not migrated yet: the check says what it could not find).
 */
function rowsOrDenied<T extends Record<string, unknown>>(
  db: Database,
  text: string,
): Promise<T[] | "denied"> {
  return db.query<T>(text).catch((error) => isPermissionDenied(error) ? "denied" : []);
}

/** A check the role's privileges kept from running (doctor names them under "migrations"). */
function notReadable(name: string, what: string): Check {
  return warn(name, `not checked: the role may not read ${what}`, "see migrations above");
}

/** This machine's clock against the newest change file applied. */
async function clockCheck(db: Database, now: Date): Promise<Check> {
  const applied = await rowsOrDenied<{ watermark: string | null }>(
    db,
    `select watermark from tickets.import_meta where watermark is not null`,
  );
  if (applied === "denied") return notReadable("clock", "tickets.import_meta");
  const newest = applied
    .map((row) => row.watermark === null ? null : parseChangeKey(row.watermark, ""))
    .filter((key) => key !== null)
    .sort((a, b) => b.exportedAt.getTime() - a.exportedAt.getTime())[0];
  return clockAgainst(newest, now);
}

/** Minutes a change file may be named ahead of this clock before doctor mentions it. */
const CLOCK_NOTED_MINUTES = 10;

/**
 * The clock check's finding for the newest applied change file: ok; a warning when the file is
 * named ahead of this clock by more than {@linkcode CLOCK_NOTED_MINUTES} but within what ingest
 * accepts ({@linkcode MAX_FUTURE_SKEW_MS}: either clock may be the one that is off); a failure
 * beyond that (ingest never applies such a file: this clock has gone back since).
 */
export function clockAgainst(newest: ChangeKey | undefined, now: Date): Check {
  if (newest === undefined) {
    return ok("clock", `${eatIso(now)}; no change file applied yet to compare with`);
  }
  const aheadMs = newest.exportedAt.getTime() - now.getTime();
  if (aheadMs > MAX_FUTURE_SKEW_MS) {
    return fail(
      "clock",
      `this machine says ${eatIso(now)}, but change file ${newest.fileName} is newer`,
      "set the machine clock (NTP); staleness and SLA hours are computed from it",
    );
  }
  if (aheadMs > CLOCK_NOTED_MINUTES * 60_000) {
    return warn(
      "clock",
      `this machine says ${eatIso(now)}, and change file ${newest.fileName} is named ${
        Math.round(aheadMs / 60_000)
      } min ahead of it (ingest accepts up to ${MAX_FUTURE_SKEW_MS / 60_000} min)`,
      "the export's clock or this machine's is off: check both (NTP); ages read negative meanwhile",
    );
  }
  return ok(
    "clock",
    `${eatIso(now)}; newest applied change file ${newest.fileName} is ${
      ((now.getTime() - newest.exportedAt.getTime()) / 3600_000).toFixed(1)
    } h old`,
  );
}

/** The database reads feed times as EAT (UTC+3), whatever its time zone. */
async function eatCheck(db: Database): Promise<Check> {
  const rows = await rowsOrDenied<{ ok: boolean | null; zone: string }>(
    db,
    `select tickets.eat_ts('2026-06-15 17:00:00') = '2026-06-15T14:00:00Z'::timestamptz as ok,
            current_setting('TimeZone') as zone`,
  );
  if (rows === "denied") return notReadable("EAT", "the schema tickets (tickets.eat_ts)");
  const [eat] = rows;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (eat === undefined) {
    return warn(
      "EAT",
      "not checked: tickets.eat_ts() is not installed yet",
      'run "deno task migrate", then doctor again',
    );
  }
  if (eat.ok === false) {
    return fail(
      "EAT",
      `the database reads "2026-06-15 17:00:00" as another instant than 14:00 UTC`,
      'run "deno task migrate" to restore tickets.eat_ts',
    );
  }
  return ok(
    "EAT",
    `feed times read as UTC+3 whatever the time zone (this process: ${zone}, database: ${eat.zone}); ` +
      `printed as +03:00`,
  );
}

/** The bucket checks: credentials, endpoint and bucket reachable, both prefixes listable. */
export async function checkBucket(config: Config, now: Date): Promise<Check[]> {
  const { accessKeyId, secretAccessKey, endpoint, bucket } = config.s3;
  if (accessKeyId === undefined && secretAccessKey === undefined) {
    return [warn(
      "bucket",
      "no S3 credentials set (only --from-dir and --csv work)",
      "set RUSTFS_ENDPOINT, RUSTFS_ACCESS_KEY, RUSTFS_SECRET_KEY and TICKETS_BUCKET for --from-bucket",
    )];
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    // One of the pair: a setting half made (before: "no S3 credentials set", a tester's).
    const missing = accessKeyId === undefined ? MISSING_KEY.access : MISSING_KEY.secret;
    return [fail("bucket", `${missing} is not set, its pair is`, `set ${missing}`)];
  }
  const { createS3ObjectStore, NotS3EndpointError } = await import(
    "../adapters/s3_object_store.ts"
  );
  // One attempt, with ingest's own timeouts (5 s to connect, 30 s for an answer to begin):
  // before, 10 s failed a slow endpoint that ingest, waiting 30 s, would have read (a tester's).
  const store = createS3ObjectStore({ ...config.s3, accessKeyId, secretAccessKey, maxAttempts: 1 });
  const where = `s3://${bucket}${endpoint ? ` at ${new URL(endpoint).host}` : ""}`;
  const checks: Check[] = [];
  for (const dataset of Object.values(DATASETS)) {
    const name = `bucket ${dataset.name}`;
    try {
      checks.push(await checkPrefix(store, where, dataset, name, now));
    } catch (error) {
      checks.push(bucketFailure(config, name, error, error instanceof NotS3EndpointError));
    }
  }
  return checks;
}

/**
 * A folder deployment's source (`doctor --from-dir DIR`, in place of the bucket): the folder as
 * `ingest --from-dir DIR --apply` checks it (there, a mirror of the bucket's root, inside
 * ./.data where applied files can be moved), then each dataset's changes folder as a bucket
 * prefix is checked. Before, doctor looked only at the bucket and warned that none was set.
 */
export async function checkFolderSource(config: Config, dir: string, now: Date): Promise<Check[]> {
  let store: ObjectStore;
  try {
    store = await openStore(config, { "from-dir": dir, apply: true }, INC);
  } catch (error) {
    // The refusals that name their own fix (a folder outside ./.data, outside the checkout)
    // keep it; the others say which folder --from-dir means.
    return [{
      name: "folder",
      result: "fail",
      detail: message(error),
      ...error instanceof NotSourceFolderError
        ? {
          remedy:
            "name the folder ingest --from-dir reads (DIR/automations/inc/changes/ holds INC's files)",
        }
        : {},
    }];
  }
  const checks: Check[] = [];
  for (const dataset of Object.values(DATASETS)) {
    const name = `folder ${dataset.name}`;
    const kind = await changesFolderKind(dir, dataset);
    if (kind === "none" || kind === "file") {
      const NAME = dataset.name.toUpperCase();
      checks.push(
        kind === "none"
          ? warn(
            name,
            noChangesFolder(dir, dataset),
            `the exporter writes ${NAME} files there; until then each run that drains ${NAME} ` +
              `warns of it`,
          )
          : fail(
            name,
            `"${changesFolder(dir, dataset)}" is a file, not a folder: ingest cannot read ` +
              `${NAME}'s change files there`,
            `make it a folder holding ${NAME}'s change files`,
          ),
      );
      continue;
    }
    try {
      checks.push(await checkPrefix(store, folderRoot(dir), dataset, name, now));
    } catch (error) {
      checks.push(fail(name, message(error), "let this user read the folder and its files"));
    }
  }
  return checks;
}

/** One dataset's prefix: listable, its change files waiting, and what else its keys show. */
async function checkPrefix(
  store: ObjectStore,
  where: string,
  dataset: Dataset,
  name: string,
  now: Date,
): Promise<Check> {
  // A net under the request's own 30 s (a listing of several pages).
  const keys = await within(60_000, where, store.list(dataset.changesPrefix));
  const files = keys.map((k) => parseChangeKey(k.key, dataset.changesPrefix))
    .filter((k) => k !== null).sort((a, b) => a.fileName < b.fileName ? -1 : 1);
  const { found, remedies } = prefixFindings(keys, files, dataset, now);
  // An empty prefix: are the files in the bucket under another one? Is it the right bucket?
  const { csvElsewhere, bucketEmpty } = keys.length === 0
    ? await lookElsewhere(store, dataset)
    : {};
  return csvElsewhere !== undefined
    ? warn(
      name,
      `${where}/${dataset.changesPrefix}: no change files; the bucket has CSV files under ${
        quoteCsvFolders(csvElsewhere)
      }`,
      `put the change files under ${dataset.changesPrefix} (or set the exporter's prefix to it)`,
    )
    : bucketEmpty
    ? warn(
      name,
      `${where}/${dataset.changesPrefix}: no change files; the bucket holds no files at all`,
      `check TICKETS_BUCKET: the exporter writes to another bucket? (or nothing was exported yet)`,
    )
    : found.length > 0
    ? warn(
      name,
      `${where}/${dataset.changesPrefix}: ${files.length} change file${
        files.length === 1 ? "" : "s"
      }, ${found.join(", ")}`,
      remedies.join("; "),
    )
    : ok(
      name,
      `${where}/${dataset.changesPrefix} listable: ${files.length} change file(s) waiting`,
    );
}

/** What a prefix's keys show that needs a look (files from the future, keys never applied). */
function prefixFindings(
  keys: readonly StoredObject[],
  files: readonly ChangeKey[],
  dataset: Dataset,
  now: Date,
): { found: string[]; remedies: string[] } {
  const future = files.filter((f) => f.exportedAt.getTime() > now.getTime() + 10 * 60_000);
  const ignored = keys.map((k) => k.key)
    .filter((key) => parseChangeKey(key, dataset.changesPrefix) === null);
  const found: string[] = [];
  const remedies: string[] = [];
  if (future.length > 0) {
    found.push(
      `${future.length} dated after this machine's clock (${future.at(-1)!.fileName})`,
    );
    remedies.push("check this machine's clock (NTP) and the exporter's");
  }
  // A renamed export (`export (1).csv`) is never applied: ingest only names it in its report.
  if (ignored.length > 0) {
    found.push(
      `${ignored.length} key(s) that are not change files, never applied or moved ` +
        `(${quoteIgnoredKeys(ignored, 3)})`,
    );
    remedies.push(
      `rename them YYYY-MM-DDTHH-mm-ss.csv (the export time, EAT) or move them out of ${dataset.changesPrefix}`,
    );
  }
  return { found, remedies };
}

/** A prefix that could not be listed, with the likeliest remedy for what the server said. */
function bucketFailure(config: Config, name: string, error: unknown, notS3: boolean): Check {
  const { endpointVariable, endpoint, bucket } = config.s3;
  const text = message(error);
  // An S3 server that speaks plain HTTP behind https:// is one: its scheme is what is wrong.
  const noTls = notS3 && endpoint !== undefined && /does not speak TLS/.test(text);
  const remedy = noTls
    ? `write "http://" in ${endpointVariable} ("http://${new URL(endpoint).host}"): ` +
      `the server speaks plain HTTP, not TLS (or check the port)`
    : notS3
    ? `set ${endpointVariable} to the S3 server's URL (scheme, host, port): this one is not an S3 server`
    : /NoSuchBucket/i.test(text)
    ? `create the bucket or set TICKETS_BUCKET (now "${bucket}")`
    : /InvalidAccessKeyId/.test(text)
    ? "set RUSTFS_ACCESS_KEY (or AWS_ACCESS_KEY_ID) to an access key of this S3 server"
    : /SignatureDoesNotMatch/.test(text)
    ? "set RUSTFS_SECRET_KEY (or AWS_SECRET_ACCESS_KEY) to that access key's secret"
    : /AuthorizationHeaderMalformed/.test(text)
    ? `set RUSTFS_REGION (or AWS_REGION; now "${config.s3.region}") to the S3 server's region`
    : /RequestTimeTooSkewed/.test(text)
    ? "set this machine's clock (NTP): S3 refuses requests signed more than 15 minutes off"
    : /TLS certificate is not trusted/.test(text)
    ? `give this machine the CA of the server's certificate (NODE_EXTRA_CA_CERTS=/path/to/ca.pem), or set ${endpointVariable} to the host the certificate names`
    : /AccessDenied|Forbidden|403/i.test(text)
    ? `give the key s3:ListBucket on "${bucket}" (prefix automations/), or fix RUSTFS_ACCESS_KEY / RUSTFS_SECRET_KEY`
    : `check ${endpointVariable} (scheme, host, port) and that the server is reachable from here`;
  return fail(name, text, remedy);
}

/** The geocoder check: provider known, key present; no call is made. */
export function checkGeocoder(config: Config): Check {
  const { provider, apiKey, baseUrl } = config.geocoder;
  const target = baseUrl ? ` at ${new URL(baseUrl).host}` : "";
  if (apiKey === undefined && provider !== "nominatim") {
    return warn(
      "geocoder",
      `${provider}${target} configured without GEOCODER_API_KEY (dry runs work; --apply does not)`,
      "set GEOCODER_API_KEY, or GEOCODER_PROVIDER=nominatim with GEOCODER_BASE_URL",
    );
  }
  // `.env.example`'s placeholder, copied and not replaced: no call is made, so only this says so.
  if (apiKey === ENV_EXAMPLE_PLACEHOLDER) {
    return warn(
      "geocoder",
      `${provider}${target}: GEOCODER_API_KEY is still .env.example's placeholder (the provider would refuse it)`,
      "set GEOCODER_API_KEY to the provider's key",
    );
  }
  return ok(
    "geocoder",
    `${provider}${target}, ${apiKey ? "key set" : "no key (Nominatim)"}; not called`,
  );
}

/**
 * A `.env` here that sets DATABASE_URL while the environment has none: the commands read their
 * environment only, so they use the embedded database and may well report it healthy (a tester's
 * `status` said HEALTHY of `.data/pglite` with a PostgreSQL `.env` beside it). Undefined otherwise.
 */
export async function checkEnvFileLoaded(
  config: Config,
  file = ".env",
): Promise<Check | undefined> {
  if (config.databaseUrl !== undefined) return undefined;
  const text = await Deno.readTextFile(file).catch(() => "");
  if (!setsDatabaseUrl(text)) return undefined;
  return warn(
    "environment",
    `${file} sets DATABASE_URL but the environment has none: the commands use the embedded ` +
      `database "${config.pgliteDir}" (they read the environment, not ${file})`,
    `load it first (set -a; . ./${file}; set +a), or run through scripts/run_ingest.sh, which does`,
  );
}

/** The value `.env.example` gives every secret. */
const ENV_EXAMPLE_PLACEHOLDER = "CHANGE_ME";
