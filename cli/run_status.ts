/**
 * `status`: per dataset health; exit 1 when stale or failing.
 *
 * @module
 */

import { openDatabase } from "../app/open_database.ts";
import { DATASETS } from "../core/datasets.ts";
import type { ObjectStore } from "../core/ports/mod.ts";
import { formatStatus, readStatus } from "../core/read_status.ts";
import { type Context, parse, seconds } from "./_context.ts";
import { openStore } from "./_open_store.ts";

/** Runs `status`; returns the exit code. */
export async function runStatus(context: Context, args: string[]): Promise<number> {
  const { config, out } = context;
  const values = parse(args, {
    json: { type: "boolean" },
    "max-age": { type: "string", default: "2" },
    "from-bucket": { type: "boolean" },
    "from-dir": { type: "string" },
  });
  const maxAgeHours = seconds(values["max-age"], "--max-age");
  let store: ObjectStore | undefined;
  if (values["from-dir"] !== undefined || values["from-bucket"] !== undefined) {
    store = await openStore(config, values, DATASETS.inc!);
  }
  const db = await openDatabase(config, { requireMigrated: true });
  try {
    const status = await readStatus(db, { store, maxAgeHours });
    out(values.json ? JSON.stringify(status) : formatStatus(status));
    return status.healthy ? 0 : 1;
  } finally {
    await db.close();
  }
}
