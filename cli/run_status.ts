/**
 * `status`: per dataset health; exit 1 when stale or failing.
 *
 * @module
 */

import { type Config, ConfigError } from "../app/config.ts";
import { openDatabase } from "../app/open_database.ts";
import { DatabaseLockedError } from "../adapters/pglite_database.ts";
import { besideServe } from "./_held_by_serve.ts";
import type { Dataset } from "../core/datasets.ts";
import type { Database, ObjectStore } from "../core/ports/mod.ts";
import { grantsLacking, STATUS_READS } from "../core/check_read_grants.ts";
import { formatStatus, readStatus } from "../core/read_status.ts";
import { READ_LOCK_TIMEOUT_MS, sayingLockWaits } from "../core/lock_wait.ts";
import { configToRead } from "./_config_to_read.ts";
import {
  amount,
  type Context,
  datasetsFlag,
  type Flags,
  namingCommand,
  parse,
} from "./_context.ts";
import { openStore } from "./_open_store.ts";

/** Runs `status`; returns the exit code. */
export async function runStatus(context: Context, args: string[]): Promise<number> {
  const flags = readFlags(args);
  try {
    return await checkHealth(context, flags);
  } catch (error) {
    if (flags.values.json) {
      // Worded as on stderr (cli/main.ts): a schema refusal names the command.
      const message = error instanceof Error ? error.message : String(error);
      context.out(unknownHealth(namingCommand(message, "status")));
    }
    throw error;
  }
}

/** The flags of `status`, as read (a bad value is a usage error). */
interface StatusFlags {
  values: Flags;
  maxAgeHours: number;
  maxContentLagHours: number | undefined;
  datasets: Dataset[];
  waitS: number;
}

function readFlags(args: string[]): StatusFlags {
  const values = parse(args, {
    json: { type: "boolean" },
    "max-age": { type: "string", default: "2" },
    "max-content-lag": { type: "string" },
    dataset: { type: "string", default: "all" },
    "wait-lock": { type: "string", default: "120" },
    "from-bucket": { type: "boolean" },
    "from-dir": { type: "string" },
  });
  const maxAgeHours = amount(values["max-age"], "--max-age", "hours", true);
  const maxContentLagHours = values["max-content-lag"] === undefined
    ? undefined
    : amount(values["max-content-lag"], "--max-content-lag", "hours", true);
  const datasets = datasetsFlag(values.dataset);
  const waitS = amount(values["wait-lock"], "--wait-lock", "seconds");
  return { values, maxAgeHours, maxContentLagHours, datasets, waitS };
}

/**
 * Health unknown is not healthy: a monitor must see it, in the form it asked for (with --json
 * a report on stdout whatever failed after the flags were read; the message goes to stderr as
 * well, with its exit code).
 */
function unknownHealth(reason: string): string {
  return JSON.stringify({ healthy: false, error: reason, datasets: [] });
}

/** Reads and prints the health of the datasets asked for; exit 1 unless healthy. */
async function checkHealth(context: Context, flags: StatusFlags): Promise<number> {
  const { values, maxAgeHours, maxContentLagHours, datasets, waitS } = flags;
  let store: ObjectStore | undefined;
  if (values["from-dir"] !== undefined || values["from-bucket"] !== undefined) {
    store = await openStore(context.config, values, datasets[0]!);
  }
  let db: Database;
  try {
    db = await openReadOnly(await configToRead(context), waitS * 1000, (dir) =>
      context.io.stderr(
        `Waiting up to ${waitS} s for the process that holds the embedded database "${dir}" ` +
          `(a run, or a running "deno task serve"; --wait-lock SECS)\n`,
      ));
  } catch (error) {
    if (!(error instanceof DatabaseLockedError)) throw error;
    return notChecked(context, flags, error);
  }
  try {
    const status = await sayingLockWaits(
      db,
      STATUS_WAIT,
      () =>
        readStatus(db, { store, maxAgeHours, maxContentLagHours, datasets })
          .catch(async (error) => {
            throw await statusGrantsError(db, error) ?? error;
          }),
    );
    const { checkedAt, ...rest } = status;
    const named = { checkedAt, database: db.description, ...rest };
    context.out(values.json ? JSON.stringify(named) : formatStatus(named));
    return status.healthy ? 0 : 1;
  } finally {
    await db.close();
  }
}

/** status's wait for a table another session holds against readers. */
const STATUS_WAIT = { command: "status", does: "reads", timeoutMs: READ_LOCK_TIMEOUT_MS } as const;

/** Says that the database stayed locked past --wait-lock; exit 1. */
function notChecked(context: Context, flags: StatusFlags, error: DatabaseLockedError): number {
  // The holder may be a run or a running serve (which holds the embedded database while it runs:
  // not waited for, it would not let go).
  const reason = error.heldByServe
    ? `${error.message}: health not checked (the embedded database takes one process at a ` +
      `time); ask serve instead (GET /api/health), or ${besideServe("status", error)}`
    : `${error.message} for over ${flags.waitS} s (another run, or a running "deno ` +
      `task serve"): health not checked`;
  if (flags.values.json) context.io.stderr(`${reason}\n`);
  context.out(flags.values.json ? unknownHealth(reason) : reason);
  return 1;
}

/**
 * Opens the database for reading. PostgreSQL needs no lock for that. The embedded database is
 * single-process: while a run holds it, wait for the run to finish (runs take seconds) rather
 * than report nothing.
 */
async function openReadOnly(
  config: Config,
  waitMs: number,
  onWait: (dir: string) => void,
): Promise<Database> {
  const deadline = Date.now() + waitMs;
  for (let waited = false;; waited = true) {
    try {
      return await openDatabase(config, {
        requireMigrated: true,
        readOnly: true,
        existing: true,
        lockWait: STATUS_WAIT,
      });
    } catch (error) {
      // A serve never lets go while it runs (before: 120 s of waiting, then the same answer).
      if (!(error instanceof DatabaseLockedError) || error.heldByServe) throw error;
      if (Date.now() >= deadline) throw error;
      if (!waited) onWait(config.pgliteDir);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/**
 * A role that may not read what status reads (serve's read-only role): the fix is ingest's role,
 * since status checks that ingest can run as its role (a role granted only these reads is then
 * reported unable to write); the GRANT statements come second. Undefined for any other error.
 */
async function statusGrantsError(db: Database, error: unknown): Promise<Error | undefined> {
  const lacking = await grantsLacking(
    db,
    error,
    STATUS_READS,
    "status needs",
    "run status as the role ingest runs as (status checks that it can write, so a role granted " +
      "only these reads is reported unable to run ingest)",
  );
  return lacking === undefined
    ? undefined
    : new ConfigError(`Cannot read the status of ${db.description ?? "the database"}: ${lacking}`);
}
