/**
 * Opens the object store a command names: `--from-dir`, `--csv` or the bucket. Private to cli/.
 *
 * @module
 */

import { type Config, ConfigError } from "../app/config.ts";
import { createDirObjectStore, digest } from "../adapters/dir_object_store.ts";
import type { Dataset } from "../core/datasets.ts";
import type { ObjectStore } from "../core/ports/mod.ts";
import { UsageError } from "./_context.ts";

/** Opens the store named by the flags. */
export async function openStore(
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
  const { createS3ObjectStore } = await import("../adapters/s3_object_store.ts");
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
