/**
 * Help text: the command list, and one page per command (`deno task <command> --help`). Private
 * to cli/.
 *
 * @module
 */

/** One command's help. */
interface CommandHelp {
  /** One line for the command list. */
  summary: string;
  /** Usage line(s) after the command name. */
  usage: string;
  /** Flags and arguments, one per line. */
  options?: string;
  /** What to know beyond the flags. */
  notes?: string;
}

const SOURCE =
  `  --from-bucket       read the bucket named by TICKETS_BUCKET (RUSTFS_* / AWS_* credentials)
  --from-dir DIR      read a folder that mirrors the bucket root (DIR/automations/inc/changes/…)`;

/** Every command with its help, in the order the list shows them. */
export const COMMANDS: Record<string, CommandHelp> = {
  doctor: {
    summary: "check the setup: database, bucket, geocoder, clock (run this first)",
    usage: "doctor [--from-dir DIR] [--json]",
    options:
      "  --from-dir DIR      check the folder a folder deployment drains (ingest --from-dir DIR)\n" +
      "                      instead of the bucket\n" +
      "  --json              one JSON document: checks[] with name, result, detail, remedy",
    notes: "Each check prints ok, warn or fail with one line of remedy. Exit 0 when nothing " +
      "fails, 1 otherwise. It makes no paid geocoder call and writes nothing.",
  },
  migrate: {
    summary: "apply pending schema migrations",
    usage: "migrate",
    notes: "Run once after each deploy that adds migrations, before the next ingest: every " +
      "command but sql refuses a database with pending migrations (exit 2), PostgreSQL and " +
      "embedded alike. A database a later version migrated is refused and left as it is (exit 2).",
  },
  ingest: {
    summary: "drain change files into the database (dry run unless --apply)",
    usage: "ingest --from-bucket|--from-dir DIR|--csv FILE [--apply] [--reseed] [--dataset NAME] " +
      "[--json] [--profile] [--wait-lock SECS] [--log-format F]",
    options: `${SOURCE}
  --csv FILE          apply one local change file named YYYY-MM-DDTHH-mm-ss.csv (never moved)
  --apply             write to the database and archive applied files (default: dry run)
  --reseed            apply every change file present, ignoring the watermark and ledger
  --dataset NAME      inc, crq or all (default inc)
  --json              print one machine-readable report on stdout (with each file's profile)
  --profile           print where each file's time went (download/parse/COPY, merge, ledger, …)
  --wait-lock SECS    wait up to SECS for another run's lock instead of skipping (default 0)
  --log-format F      auto (default: text on a terminal, JSON lines otherwise), text or json`,
    notes: "A folder's change file written less than FOLDER_SETTLE_SECONDS (default 10) ago is " +
      "waited for until it has been still that long; write files under another name and rename " +
      "them into changes/ when whole.",
  },
  status: {
    summary: "per dataset: watermark, pending files, last run, backlog, lag; exit 1 if unhealthy",
    usage: "status [--dataset NAME] [--max-age HOURS] [--max-content-lag HOURS] " +
      "[--from-bucket|--from-dir DIR] [--wait-lock SECS] [--json]",
    options: `  --dataset NAME      inc, crq or all (default all): check only one
  --max-age HOURS     unhealthy when no file was applied for longer (default 2; 06:00-21:00 EAT)
  --max-content-lag HOURS
                      unhealthy when the newest ticket update is older (default: not checked)
${SOURCE.replace("read the bucket", "count pending files in the bucket")}
  --wait-lock SECS    embedded database only: wait up to SECS while a run holds it (default 120)
  --json              one JSON document`,
    notes: "Times are EAT (+03:00). It only reads: on PostgreSQL it answers while a run works; " +
      "the embedded database is single-process, so it waits for the run (--wait-lock).",
  },
  geocode: {
    summary: "look up the places tickets need (dry run unless --apply)",
    usage: "geocode --clusters and/or --locations [--apply] [--budget N] [--dataset NAME] " +
      "[--retry-misses] [--json]",
    options: `  --clusters          one coarse point per cluster
  --locations         one point per distinct (cluster, place) of open tickets
                      (both flags: clusters first, then locations, one budget)
  --apply             call the provider and store results (default: count only)
  --budget N          most paid calls in this run (default GEOCODER_BUDGET, else no limit)
  --dataset NAME      inc, crq or all (default all)
  --retry-misses      look up again places that found nothing before
  --json              one JSON document per flag`,
  },
  capture: {
    summary: "append new INC closures and upsert today's backlog snapshot",
    usage: "capture [--json]",
  },
  report: {
    summary: "backlog by cluster with SLA split, oldest open, closures, backlog over time",
    usage: "report [--json]\n       report --by team|owner [--window W] [--from D --to D] " +
      "[--cluster C] [--json]",
    options: `  --by team|owner     closure attribution instead: per assigned team (or owner) the
                      closures of the window, MTTR p50/p90, SLA compliance, open backlog
                      (breached, at risk) and reopened tickets (as GET /api/teams)
  --window W          today, yesterday, 7d (default), 30d, mtd or custom
  --from D, --to D    EAT days YYYY-MM-DD of a custom window
  --cluster C         one cluster (case-insensitive)
  --json              one JSON document`,
  },
  gazetteer: {
    summary: "export the geocoding review sheet, or import curated coordinates",
    usage: "gazetteer export FILE.csv|-\n       gazetteer import FILE.csv",
    notes: "A relative FILE is written under .data/ (the only folder fleettickets may write) and " +
      "the message says where; - prints to stdout. import reads any file inside the checkout " +
      "and stores only the rows you edited or added (as curated); the others stay as they are.",
  },
  sql: {
    summary: "run SQL on the configured database (the embedded one by default) and print rows",
    usage: 'sql "select …" [--json]\n       sql - [--json]     (the SQL from stdin)',
    options: `  --json              the rows as one JSON array
  --max-rows N        print at most N rows (default 1000; the count says how many there were)`,
    notes: "Statements run as written, in one transaction each call, on the schema as it is " +
      "(never migrated; a note on stderr says when it is not this version's). Geometry values " +
      "print as hex EWKB: use ST_AsText(geom) or ST_Y(geom)/ST_X(geom) for readable coordinates.",
  },
  db: {
    summary: "export the embedded database as SQL that psql loads into PostgreSQL + PostGIS",
    usage: "db export FILE.sql|-",
    notes:
      "A relative FILE is written under .data/ (db export x.sql writes .data/x.sql). Load it " +
      'with `psql "postgres://USER@HOST/NAME" -v ON_ERROR_STOP=1 --single-transaction -f .data/FILE.sql` ' +
      "into an empty database (createdb NAME) with PostGIS available, then set DATABASE_URL to " +
      "that URL.",
  },
  demo: {
    summary: "drain a generated stream into a fresh embedded database in .data/demo",
    usage: "demo",
  },
  serve: {
    summary: "the read-only HTTP API and the live map page (docs/api.md)",
    usage: "serve [--port 8080] [--host 127.0.0.1]",
    options: `  --port N            port to listen on (default 8080; 0: any free port)
  --host H            interface to bind (default 127.0.0.1, loopback only)`,
    notes: "Serves DATABASE_URL, else the embedded database (PGLITE_DIR, or the demo's when only " +
      "it exists). Every request is a READ ONLY transaction with SERVE_STATEMENT_TIMEOUT (5 s). " +
      "DASHBOARD_CORS_ORIGINS lists browser origins allowed; SERVE_TOKEN, when set, is required " +
      "as Authorization: Bearer on /api and /webhook. SIGTERM lets in-flight requests finish, " +
      "then exits 0. One JSON access-log line per request when stdout is not a terminal.",
  },
  help: {
    summary: "list the commands, or show one command's help",
    usage: "help [COMMAND]",
  },
};

/** The command list (`help`, or no command). */
export function commandList(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  return [
    "Usage: deno task <command> [options]    (the compiled binary: fleettickets <command> …)",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, help]) => `  ${name.padEnd(width)}${help.summary}`),
    "",
    'Run "deno task <command> --help" for its flags. Exit codes: 0 done, 1 failed or unhealthy,',
    "2 usage or configuration error.",
  ].join("\n");
}

/** One command's help page. */
export function commandHelp(name: string): string {
  const help = COMMANDS[name];
  if (help === undefined) return commandList();
  return [
    `${help.summary[0]!.toUpperCase()}${help.summary.slice(1)}.`,
    "",
    `Usage: deno task ${help.usage}`,
    ...(help.options ? ["", "Options:", help.options] : []),
    "  -h, --help          show this help",
    ...(help.notes ? ["", help.notes] : []),
  ].join("\n");
}

/** The line a usage error ends with. */
export function seeHelp(command?: string): string {
  return command !== undefined && command !== "help" && COMMANDS[command] !== undefined
    ? `See "deno task ${command} --help"`
    : 'See "deno task help"';
}
