/**
 * A `.env` name one or two letters from a setting's (`DATABSE_URL`): the setting is then unset,
 * and a production run would use its default in silence (the embedded database instead of
 * PostgreSQL, serve without its token). Private to cli/.
 *
 * @module
 */

import { ConfigError, ENV_NAMES } from "../app/config.ts";
import { dotEnvSet } from "../app/dot_env_set.ts";
import { editDistance } from "./_suggest.ts";

/**
 * Every variable fleettickets reads: its settings (`ENV_NAMES`), and the standard ones its
 * libraries take (postgres.js's PG*, Node's CA switch).
 */
export const SETTING_NAMES: readonly string[] = [
  ...ENV_NAMES,
  "PGPASSWORD",
  "PGHOST",
  "PGPORT",
  "PGDATABASE",
  "NODE_USE_SYSTEM_CA",
];

/**
 * The names a `.env` text sets that fleettickets does not read but are one or two edits (any
 * case; one under 8 letters) from one it does, each with that one; a name of its own, or one far
 * from all of them (another program's), is left alone.
 *
 * @example
 * ```ts ignore
 * misspelledNames("DATABSE_URL=postgres://…\nTZ=Africa/Nairobi\n");
 * // [{ name: "DATABSE_URL", meant: "DATABASE_URL" }]
 * ```
 */
export function misspelledNames(text: string): { name: string; meant: string }[] {
  const found: { name: string; meant: string }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const name = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (name === undefined || SETTING_NAMES.includes(name)) continue;
    // Two edits for a long name, one for a short one, none under 4 letters: PORT (Coolify's)
    // is not PGPORT misspelled.
    const allowed = Math.min(2, Math.floor(name.length / 4));
    const meant = SETTING_NAMES.find((known) => editDistance(name.toUpperCase(), known) <= allowed);
    if (meant !== undefined) found.push({ name, meant });
  }
  return found;
}

/** Whether a `.env` text sets DATABASE_URL to a value. */
export function setsDatabaseUrl(text: string): boolean {
  // Within its line: `DATABASE_URL=` followed by another line sets it empty (before, the next
  // line's first letter read as its value).
  return dotEnvSet(text).includes("DATABASE_URL");
}

/**
 * What a command that opens the embedded database says first when `.env` sets DATABASE_URL but
 * the environment has none (the shell did not load it); undefined otherwise. Before, `migrate`
 * made a new embedded database and `ingest --apply` moved a bucket's files to processed/ as if
 * all were well (a tester's; only `doctor` said why).
 */
export function unloadedEnvWarning(
  command: string,
  text: string | undefined,
  config: { databaseUrl?: string; pgliteDir: string },
): string | undefined {
  if (config.databaseUrl !== undefined || text === undefined || !setsDatabaseUrl(text)) {
    return undefined;
  }
  if (!EMBEDDED_COMMANDS.has(command)) return undefined;
  return `Warning: .env sets DATABASE_URL but the environment has none: ${command} uses the ` +
    `embedded database "${config.pgliteDir}" (commands read the environment, not .env); load ` +
    `it first (set -a; . ./.env; set +a), or run through scripts/run_ingest.sh, which does\n`;
}

/** The commands that open the database (doctor says it its own way; the demo has its own). */
const EMBEDDED_COMMANDS = new Set([
  "migrate",
  "ingest",
  "status",
  "geocode",
  "capture",
  "report",
  "gazetteer",
  "sql",
  "db",
  "serve",
]);

/**
 * The refusal for a `.env` that sets a misspelled name, or undefined. `file` names it as the
 * user sees it.
 */
export function checkDotEnvNames(text: string, file = ".env"): ConfigError | undefined {
  const [first, ...more] = misspelledNames(text);
  if (first === undefined) return undefined;
  const also = more.length > 0
    ? ` (and ${more.map((m) => `${m.name} for ${m.meant}`).join(", ")})`
    : "";
  return new ConfigError(
    `Cannot read ${file}: it sets ${first.name}, which fleettickets does not read: did you mean ` +
      `${first.meant}?${also} Rename it, or remove the line`,
  );
}
