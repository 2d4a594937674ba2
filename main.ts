/**
 * fleettickets command line: `migrate`, `ingest`, `demo`.
 *
 * Exit codes: 0 done (including nothing to do, or another run holds the lock), 1 a file or the
 * run failed, 2 usage or configuration error.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Config, ConfigError, configSecrets, loadConfig } from "./lib/config.ts";
import { type Dataset, DATASETS, getDataset } from "./lib/datasets.ts";
import { createDirObjectStore, digest } from "./lib/dir_object_store.ts";
import { drain, type DrainReport } from "./lib/drain.ts";
import { formatDrainReport } from "./lib/format_report.ts";
import { migrate } from "./lib/migrate.ts";
import { openDatabase, PendingMigrationsError } from "./lib/open_database.ts";
import { DatabaseLockedError } from "./lib/pglite_database.ts";
import type { ObjectStore } from "./lib/ports.ts";
import { createRedactor } from "./lib/redact.ts";
import { runDemo } from "./lib/run_demo.ts";

const USAGE = `Usage: fleettickets <command> [options]

Commands:
  migrate                          apply pending schema migrations
  ingest --from-bucket|--from-dir DIR|--csv FILE [--apply] [--reseed] [--json] [--dataset NAME]
                                   drain change files (dry run unless --apply)
  demo                             drain a generated stream into a fresh embedded database

Options:
  --from-bucket       read the bucket named by TICKETS_BUCKET (RUSTFS_* / AWS_* credentials)
  --from-dir DIR      read a folder that mirrors the bucket root (DIR/automations/inc/changes/)
  --csv FILE          apply one local change file (dev use; never moved)
  --apply             write to the database and archive applied files (default: dry run)
  --reseed            apply every change file present, ignoring the watermark and ledger
  --dataset NAME      ${Object.keys(DATASETS).join(", ")} or all (default inc)
  --json              print one machine-readable report on stdout
  -h, --help          show this help`;

/** Where the CLI writes and what it reads; injected by tests. */
export interface MainIo {
  /** Environment lookup. */
  env: (name: string) => string | undefined;
  /** Normal output. */
  stdout: (text: string) => void;
  /** Errors and diagnostics. */
  stderr: (text: string) => void;
}

const defaultIo: MainIo = {
  env: (name) => Deno.env.get(name),
  stdout: (text) => console.log(text),
  stderr: (text) => console.error(text),
};

class UsageError extends Error {}

/** Runs the CLI and returns the process exit code. */
export async function main(args: string[], io: MainIo = defaultIo): Promise<number> {
  let redact = (text: string) => text;
  const out = (text: string) => io.stdout(redact(text));
  const err = (text: string) => io.stderr(redact(text));
  try {
    const [command, ...rest] = args;
    if (command === undefined || command === "-h" || command === "--help") {
      out(USAGE);
      return command === undefined ? 2 : 0;
    }
    const config = loadConfig(io.env);
    redact = createRedactor(configSecrets(config));
    switch (command) {
      case "migrate":
        return await runMigrate(config, out);
      case "ingest":
        return await runIngest(config, rest, out);
      case "demo":
        return await runDemo({ out });
      default:
        throw new UsageError(`Unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof PendingMigrationsError) {
      err(error.message);
      return 2;
    }
    if (error instanceof DatabaseLockedError) {
      out(error.message);
      return 0;
    }
    err(`fleettickets: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

type Flags = Record<string, string | boolean | undefined>;

function parse(args: string[], options: ParseArgsConfig["options"]): Flags {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function runMigrate(config: Config, out: (text: string) => void): Promise<number> {
  const db = await openDatabase(config);
  try {
    const status = await migrate(db);
    out(
      status.pending.length === 0
        ? `Schema is up to date (${status.applied.length} migrations)`
        : `Applied ${status.pending.length} migration(s): ${status.pending.join(", ")}`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

async function runIngest(
  config: Config,
  args: string[],
  out: (text: string) => void,
): Promise<number> {
  const values = parse(args, {
    "from-bucket": { type: "boolean" },
    "from-dir": { type: "string" },
    csv: { type: "string" },
    apply: { type: "boolean" },
    reseed: { type: "boolean" },
    json: { type: "boolean" },
    dataset: { type: "string", default: "inc" },
  });
  const sources = ["from-bucket", "from-dir", "csv"].filter((s) => values[s] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError("Choose exactly one source: --from-bucket, --from-dir DIR or --csv FILE");
  }
  const name = String(values.dataset);
  let datasets: Dataset[];
  try {
    datasets = name === "all" ? Object.values(DATASETS) : [getDataset(name)];
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const csv = values.csv as string | undefined;
  if (csv !== undefined && datasets.length !== 1) {
    throw new UsageError("--csv takes one dataset, not --dataset all");
  }
  const store = await openStore(config, values, datasets[0]!);

  const db = await openDatabase(config, { requireMigrated: true });
  const reports: DrainReport[] = [];
  try {
    for (const dataset of datasets) {
      reports.push(
        await drain(store, db, {
          dataset,
          apply: values.apply === true,
          reseed: values.reseed === true,
          archive: csv === undefined,
        }),
      );
    }
  } finally {
    await db.close();
  }
  if (values.json) out(JSON.stringify(reports.length === 1 ? reports[0] : { datasets: reports }));
  else out(reports.map(formatDrainReport).join("\n"));
  return reports.some((r) => r.status === "failed") ? 1 : 0;
}

async function openStore(
  config: Config,
  values: Record<string, unknown>,
  dataset: Dataset,
): Promise<ObjectStore> {
  if (values["from-dir"] !== undefined) return createDirObjectStore(String(values["from-dir"]));
  if (values.csv !== undefined) return createSingleFileStore(String(values.csv), dataset);
  const { accessKeyId, secretAccessKey } = config.s3;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new ConfigError(
      "Cannot read the bucket: set RUSTFS_ACCESS_KEY and RUSTFS_SECRET_KEY " +
        "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
    );
  }
  // Loaded on demand: the AWS SDK is large, and folder and file runs do not need it.
  const { createS3ObjectStore } = await import("./lib/s3_object_store.ts");
  return createS3ObjectStore({ ...config.s3, accessKeyId, secretAccessKey });
}

// A local file presented as the only object under the dataset's changes prefix.
function createSingleFileStore(path: string, dataset: Dataset): ObjectStore {
  const fileName = path.slice(path.lastIndexOf("/") + 1);
  const key = dataset.changesPrefix + fileName;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.csv$/.test(fileName)) {
    throw new UsageError(
      `Cannot tell when "${path}" was exported: name it YYYY-MM-DDTHH-mm-ss.csv (EAT)`,
    );
  }
  return {
    description: `file:${path}`,
    async list() {
      return [{ key, ...await digest(path) }];
    },
    async read() {
      return (await Deno.open(path)).readable;
    },
    move: () => Promise.resolve(),
  };
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
