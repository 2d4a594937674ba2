/**
 * Opens the object store a command names: `--from-dir`, `--csv` or the bucket. Private to cli/.
 *
 * @module
 */

import { relative, resolve, sep as SEP } from "node:path";
import { parse as parseText } from "csv-parse/sync";
import { type Config, ConfigError } from "../app/config.ts";
import { createDirObjectStore, digest } from "../adapters/dir_object_store.ts";
import { parseChangeFileName } from "../core/change_key.ts";
import { type Dataset, DATASETS } from "../core/datasets.ts";
import { utf16Encoding } from "../core/utf16_encoding.ts";
import type { ObjectStore } from "../core/ports/mod.ts";
import { allowedPath, PathNotAllowedError } from "../app/allowed_path.ts";
import { SourceError, UsageError } from "./_context.ts";
import { isPermissionError, refusal } from "./_permission_message.ts";

/**
 * Opens the store named by the flags, refusing at once (exit 2, before anything is applied) a
 * source that is not there or that the run could not archive into.
 */
export async function openStore(
  config: Config,
  values: Record<string, unknown>,
  dataset: Dataset,
): Promise<ObjectStore> {
  if (values["from-dir"] !== undefined) {
    const dir = String(values["from-dir"]);
    await checkFolder(dir, values.apply === true);
    return createDirObjectStore(dir);
  }
  if (values.csv !== undefined) {
    const path = String(values.csv);
    await checkFile(path);
    await checkDatasetOfFile(path, dataset);
    return createSingleFileStore(path, dataset);
  }
  const { accessKeyId, secretAccessKey } = config.s3;
  if (accessKeyId === undefined && secretAccessKey === undefined) {
    throw new ConfigError(
      "Cannot read the bucket: set RUSTFS_ACCESS_KEY and RUSTFS_SECRET_KEY " +
        "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
    );
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    const missing = accessKeyId === undefined ? MISSING_KEY.access : MISSING_KEY.secret;
    throw new ConfigError(`Cannot read the bucket: set ${missing}; its pair is set`);
  }
  // Loaded on demand: the AWS SDK is large, and folder and file runs do not need it.
  const { createS3ObjectStore, BucketNotFoundError, KeysRefusedError, NotS3EndpointError } =
    await import("../adapters/s3_object_store.ts");
  const store = createS3ObjectStore({ ...config.s3, accessKeyId, secretAccessKey });
  try {
    await store.checkBucket();
  } catch (error) {
    // No such bucket, an endpoint that is not an S3 server, keys it refuses: a setting to fix
    // (exit 2; before, exit 1 for a wrong key: a tester's).
    if (
      error instanceof BucketNotFoundError || error instanceof NotS3EndpointError ||
      error instanceof KeysRefusedError
    ) {
      throw new SourceError(error.message);
    }
    throw error;
  }
  return store;
}

/** The variables that give one half of the S3 key pair, named when only the other is set. */
export const MISSING_KEY = {
  access: "RUSTFS_ACCESS_KEY (or AWS_ACCESS_KEY_ID)",
  secret: "RUSTFS_SECRET_KEY (or AWS_SECRET_ACCESS_KEY)",
} as const;

/**
 * How a run names its source (the store's `description`: `dir:…`, `file:…`, `s3://bucket at
 * host`) when the store could not be opened, for the record of the refused run.
 */
export function describeSource(config: Config, values: Record<string, unknown>): string {
  if (values["from-dir"] !== undefined) {
    return createDirObjectStore(String(values["from-dir"])).description;
  }
  if (values.csv !== undefined) return `file:${values.csv}`;
  const { bucket, endpoint } = config.s3;
  return `s3://${bucket}${endpoint === undefined ? "" : ` at ${new URL(endpoint).host}`}`;
}

/**
 * A `--from-dir` that names no source folder: empty, missing, a file, or a folder without
 * `automations/`. The fix is naming the right folder (doctor says so); other refusals of a
 * folder (outside ./.data, unreadable) name their own fix.
 */
export class NotSourceFolderError extends SourceError {}

/** A folder source must exist, mirror a bucket root, lead nowhere it may not, be archivable. */
async function checkFolder(dir: string, apply: boolean): Promise<void> {
  if (dir.trim() === "") {
    throw new NotSourceFolderError(
      `Cannot read --from-dir "${dir}": name a folder, such as --from-dir .data/feed`,
    );
  }
  await checkAllowed(dir, "read", "the folder");
  const stat = await statOrNull(dir);
  if (stat === null) {
    throw new NotSourceFolderError(`Cannot read the folder "${dir}": it does not exist`);
  }
  if (!stat.isDirectory) {
    throw new NotSourceFolderError(`Cannot read the folder "${dir}": it is a file`);
  }
  if (!(await statOrNull(`${dir}/automations`))?.isDirectory) {
    throw new NotSourceFolderError(
      `Cannot read the folder "${dir}": it has no "automations/" folder (expected DIR/automations/inc/changes/ for INC, DIR/automations/crq/changes/ for CRQ)`,
    );
  }
  // Archiving moves applied files inside the folder: refuse now rather than commit a file
  // that could then never be moved (every rerun would fail on it).
  if (apply) {
    try {
      await allowedPath(dir, "write", "the folder");
    } catch (error) {
      if (!(error instanceof PathNotAllowedError)) throw error;
      throw new SourceError(
        `Cannot archive applied files in the folder "${dir}" (${error.realPath}): the worker may write only under ./.data; move the folder there (a dry run, without --apply, only reads it)`,
      );
    }
  }
}

/** Bytes of a `--csv` file read to see which dataset its rows belong to. */
const PEEK_BYTES = 64 * 1024;

/**
 * A `--csv` file must belong to the dataset it is applied to (`--dataset`, default inc): one
 * whose first rows say another dataset in `service_type` (and none says this one), or, when
 * its rows say nothing, that sits in another dataset's folder (`automations/crq/…`, or a folder
 * named `crq`), is refused before anything is written: a CRQ export would otherwise land in the
 * INC table as incidents.
 */
async function checkDatasetOfFile(path: string, dataset: Dataset): Promise<void> {
  const others = Object.values(DATASETS).filter((d) => d.name !== dataset.name);
  const types = await peekServiceTypes(path);
  if (types.has(dataset.name)) return;
  let said = others.find((d) => types.has(d.name));
  let why = `its rows say service_type "${said?.name}"`;
  if (said === undefined && [...types].every((t) => t === "")) {
    const folder = datasetFolder(path);
    said = others.find((d) => d.name === folder);
    why = `it is in a "${folder}" folder`;
  }
  if (said === undefined) return;
  throw new UsageError(
    `Cannot apply "${path}" to ${dataset.name.toUpperCase()}: ${why}; ` +
      `pass --dataset ${said.name} (or --dataset ${dataset.name} after moving it, if it is ${dataset.name.toUpperCase()} after all)`,
  );
}

/**
 * The dataset folder a file sits in, inside the checkout: `<name>` of `automations/<name>/…`, else
 * the folder holding it (lowercased).
 */
function datasetFolder(path: string): string | undefined {
  const inside = relative(Deno.cwd(), resolve(path)).split(SEP).map((s) => s.toLowerCase());
  const at = inside.lastIndexOf("automations");
  return at >= 0 && at < inside.length - 2 ? inside[at + 1] : inside.at(-2);
}

/** The service_type values (lowercased) of the first records of a CSV file, if it has the column. */
async function peekServiceTypes(path: string): Promise<Set<string>> {
  const buffer = new Uint8Array(PEEK_BYTES);
  let n = 0;
  using file = await Deno.open(path);
  for (let got: number | null = 0; got !== null && n < PEEK_BYTES;) {
    got = await file.read(buffer.subarray(n));
    n += got ?? 0;
  }
  const bytes = buffer.subarray(0, n);
  const text = new TextDecoder(utf16Encoding(bytes) ?? "utf-8").decode(bytes);
  const end = n < PEEK_BYTES ? text.length : text.lastIndexOf("\n") + 1; // whole records only
  try {
    const records = parseText(text.slice(0, end), {
      bom: true,
      relax_column_count: true,
      to_line: 50,
    }) as string[][];
    const column = (records[0] ?? []).map((c) => c.trim().toLowerCase()).indexOf("service_type");
    if (column < 0) return new Set();
    return new Set(records.slice(1).map((r) => (r[column] ?? "").trim().toLowerCase()));
  } catch {
    return new Set(); // unreadable here: the drain reports the file's problems with their lines
  }
}

async function checkFile(path: string): Promise<void> {
  if (path.trim() === "") {
    throw new SourceError(
      `Cannot read --csv "${path}": name a change file, such as --csv .data/x.csv`,
    );
  }
  await checkReadableFile(path, "the change file");
}

/**
 * A file a command reads (`what`: "the change file", "the gazetteer sheet") must lead nowhere the
 * worker may not read, exist and be a file; otherwise a SourceError names it and why.
 */
export async function checkReadableFile(path: string, what: string): Promise<void> {
  await checkAllowed(path, "read", what);
  const stat = await statOrNull(path);
  if (stat === null) throw new SourceError(`Cannot read ${what} "${path}": it does not exist`);
  if (!stat.isFile) throw new SourceError(`Cannot read ${what} "${path}": it is not a file`);
}

async function checkAllowed(path: string, access: "read" | "write", what: string): Promise<void> {
  try {
    await allowedPath(path, access, what);
  } catch (error) {
    if (error instanceof PathNotAllowedError) throw new SourceError(error.message);
    // Deno refuses even to look at a path outside the permission set: name what it is.
    if (isPermissionError(error)) throw new SourceError(refusal(access, path, what));
    throw error;
  }
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
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
  // The shape alone passes 2026-02-30 or 25 o'clock, which the drain then ignores: say so here.
  if (parseChangeFileName(fileName) === null) {
    throw new UsageError(
      `Cannot tell when "${path}" was exported: "${
        fileName.slice(0, -4)
      }" is no date and time; name it YYYY-MM-DDTHH-mm-ss.csv (EAT)`,
    );
  }
  return {
    description: `file:${path}`,
    async list() {
      const { etag, size } = await digest(path);
      return [{ key, etag, size }];
    },
    async read() {
      return (await Deno.open(path)).readable;
    },
    move: () => Promise.resolve(),
  };
}
