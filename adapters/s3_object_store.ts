/**
 * S3 adapter (`@aws-sdk/client-s3`): rustfs, MinIO or AWS; path-style addressing, explicit
 * timeouts (the SDK's default request timeout is infinite) and bounded retries. An endpoint that
 * is not an S3 server (a web server, another service) or that never answers is named as such.
 *
 * @module
 */

import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import {
  ObjectChangedError,
  ObjectRemovedError,
  ObjectReplacedError,
  ObjectStoreError,
} from "../core/ports/mod.ts";
import type { ObjectStore, StoredObject } from "../core/ports/mod.ts";
import {
  BucketNotFoundError,
  KeysRefusedError,
  NoAnswer,
  NotS3EndpointError,
  S3Failures,
  type S3Timeouts,
} from "./_s3_errors.ts";

export { BucketNotFoundError, KeysRefusedError, NotS3EndpointError };

/** Connection settings for {@linkcode createS3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** Endpoint URL, e.g. `https://s3.example.com`; omit for AWS. */
  endpoint?: string;
  /** The variable messages name for the endpoint (default `RUSTFS_ENDPOINT`). */
  endpointVariable?: string;
  /** Region (default `us-east-1`). */
  region?: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Bucket name. */
  bucket: string;
  /** Milliseconds to establish a connection (default 5000). */
  connectionTimeoutMs?: number;
  /** Milliseconds a request may wait for the response to begin (default 30000). */
  requestTimeoutMs?: number;
  /**
   * Attempts per request including the first, with backoff (default 4). A request left
   * unanswered (a timeout) before the endpoint has answered anything gets one, and every later
   * request of the store then fails at once.
   */
  maxAttempts?: number;
}

/** An S3 object store that can check its bucket exists. */
export interface S3ObjectStore extends ObjectStore {
  /**
   * Throws {@linkcode BucketNotFoundError} when the bucket does not exist and
   * {@linkcode NotS3EndpointError} when the endpoint is not an S3 server (an answer that is not
   * S3's, no TLS behind `https://`), and a transient error naming the silence when the endpoint
   * gives no answer (the run could send nothing more). Anything else (a refusal, a server error)
   * is left to the run, which reports it with its key.
   */
  checkBucket(): Promise<void>;
}

/**
 * Creates an object store over one S3 bucket.
 *
 * @example Usage
 * ```ts
 * import { createS3ObjectStore, loadConfig } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const env: Record<string, string> = {
 *   RUSTFS_ENDPOINT: "http://127.0.0.1:9000",
 *   RUSTFS_ACCESS_KEY: "rustfsadmin",
 *   RUSTFS_SECRET_KEY: "rustfs-secret",
 * };
 * const { s3 } = loadConfig((name) => env[name]);
 * const store = createS3ObjectStore({
 *   endpoint: s3.endpoint,
 *   region: s3.region,
 *   accessKeyId: s3.accessKeyId!,
 *   secretAccessKey: s3.secretAccessKey!,
 *   bucket: s3.bucket,
 * });
 * // Nothing is sent until list(), read() or move() is called.
 * assert.equal(store.description, "s3://isptickets at 127.0.0.1:9000");
 * ```
 */
export function createS3ObjectStore(options: S3ObjectStoreOptions): S3ObjectStore {
  const timeouts: S3Timeouts = {
    connectionMs: options.connectionTimeoutMs ?? 5000,
    requestMs: options.requestTimeoutMs ?? 30000,
  };
  const client = createClient(options, timeouts);
  const where = options.endpoint === undefined ? "" : ` at ${new URL(options.endpoint).host}`;
  const description = `s3://${options.bucket}${where}`;
  const failures = new S3Failures(
    options.endpoint,
    options.endpointVariable ?? "RUSTFS_ENDPOINT",
    timeouts,
    options.bucket,
    options.region,
  );
  // Every attempt's answer is checked inside the SDK's retry loop (see S3Failures.check).
  client.middlewareStack.add(
    (next, context) => (args) =>
      failures.check(args.request, () => next(args), context.commandName),
    { step: "deserialize", priority: "high", name: "fleetticketsAnswerCheck" },
  );
  const bucket: Bucket = { client, name: options.bucket, description, failures, timeouts };
  return {
    description,
    checkBucket: () => checkBucket(bucket),
    list: (prefix) => listObjects(bucket, prefix),
    listAnywhere: (limit) => listAnywhere(bucket, limit),
    read: (key, options) => readObject(bucket, key, options?.etag),
    move: (from, to, options) => moveObject(bucket, from, to, options?.etag),
  };
}

/** What every request of one store shares. */
interface Bucket {
  client: S3Client;
  name: string;
  description: string;
  failures: S3Failures;
  timeouts: S3Timeouts;
}

function createClient(options: S3ObjectStoreOptions, timeouts: S3Timeouts): S3Client {
  return new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? "us-east-1",
    forcePathStyle: true,
    credentials: {
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
    },
    maxAttempts: options.maxAttempts ?? 4,
    // Only where the API requires them: several S3-compatible servers reject the SDK's newer
    // default checksum modes.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: new NodeHttpHandler({
      connectionTimeout: timeouts.connectionMs,
      requestTimeout: timeouts.requestMs,
      // Without it node-http-handler 4 only logs a warning and the request hangs on.
      throwOnRequestTimeout: true,
    }),
  });
}

/**
 * Sends one request (the SDK retries what it deems transient), naming what failed and, when the
 * key is refused it, the `right` the request needs.
 */
async function send<T>(
  bucket: Bucket,
  what: string,
  right: string,
  request: () => Promise<T>,
): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw bucket.failures.describe(`Cannot ${what} in ${bucket.description}`, error, right);
  }
}

/** See {@linkcode S3ObjectStore.checkBucket}. */
/** S3's codes for a key pair it does not know: no request can succeed with it. */
const WRONG_KEYS = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch"]);

async function checkBucket(bucket: Bucket): Promise<void> {
  const { client, name, description, failures } = bucket;
  const head = `Cannot read ${description}`;
  let status: number | undefined;
  try {
    await client.send(new HeadBucketCommand({ Bucket: name }));
    return;
  } catch (error) {
    const failure = failures.describe(head, error, "s3:ListBucket");
    // No answer at all: the run could only send nothing more, so it fails here, saying so.
    if (failure instanceof NotS3EndpointError || error instanceof NoAnswer) throw failure;
    status = failure.status;
    if (status === undefined || status >= 500) return; // left to the run
  }
  // A HEAD answer has no body to tell an S3 server's 404 from a web server's: ask once for
  // one that has (only when the HEAD failed).
  try {
    await client.send(
      new ListObjectsV2Command({ Bucket: name, Prefix: "automations/", MaxKeys: 1 }),
    );
  } catch (error) {
    const failure = failures.describe(head, error, "s3:ListBucket");
    if (failure instanceof NotS3EndpointError) throw failure;
    // Keys the server does not know are wrong for every request (before: found by the run's
    // listing, exit 1); a refused right is left to the request that needs it.
    if (failure instanceof KeysRefusedError && WRONG_KEYS.has((error as Error).name)) throw failure;
    if (status === 404 || failure.status === 404) {
      throw new BucketNotFoundError(description, name);
    }
  }
}

/** Every object under `prefix`, following all listing pages. */
async function listObjects(bucket: Bucket, prefix: string): Promise<StoredObject[]> {
  const found: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await send(
      bucket,
      `list "${prefix}"`,
      "s3:ListBucket",
      () =>
        bucket.client.send(
          new ListObjectsV2Command({
            Bucket: bucket.name,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        ),
    );
    for (const item of page.Contents ?? []) {
      // A folder marker (`automations/inc/changes/`, what a console's "Create folder" leaves) is
      // no file (before: named every run as a stray key to rename; a tester's).
      if (item.Key === undefined || item.Key.endsWith("/")) continue;
      found.push({ key: item.Key, etag: unquote(item.ETag), size: item.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return found;
}

/** Up to `limit` keys from anywhere in the bucket, in one request. */
async function listAnywhere(bucket: Bucket, limit: number): Promise<string[]> {
  const page = await send(
    bucket,
    "list the bucket",
    "s3:ListBucket",
    () => bucket.client.send(new ListObjectsV2Command({ Bucket: bucket.name, MaxKeys: limit })),
  );
  return (page.Contents ?? []).flatMap((item) => item.Key === undefined ? [] : [item.Key]);
}

/**
 * An object's bytes, failing when the download stalls; with `etag`, only that version's (an
 * object replaced since it was listed is refused: `If-Match`, and the answer's ETag for a server
 * that ignores the condition).
 */
async function readObject(
  bucket: Bucket,
  key: string,
  etag: string | undefined,
): Promise<ReadableStream<Uint8Array>> {
  let object;
  try {
    object = await send(
      bucket,
      `read "${key}"`,
      "s3:GetObject",
      () =>
        bucket.client.send(
          new GetObjectCommand({
            Bucket: bucket.name,
            Key: key,
            IfMatch: etag === undefined ? undefined : `"${etag}"`,
          }),
        ),
    );
  } catch (error) {
    if (etag !== undefined && error instanceof ObjectStoreError && error.status === 412) {
      throw new ObjectReplacedError(key, etag, { cause: error });
    }
    if (etag !== undefined && error instanceof ObjectStoreError && error.status === 404) {
      throw new ObjectRemovedError(key, { cause: error });
    }
    throw error;
  }
  if (etag !== undefined && object.ETag !== undefined && unquote(object.ETag) !== etag) {
    await object.Body?.transformToWebStream().cancel().catch(() => {});
    throw new ObjectReplacedError(key, etag);
  }
  if (object.Body === undefined) throw new TypeError(`Cannot read "${key}": empty response`);
  // The handler's socket timeout does not cover the body under Deno: a stalled download
  // would hang the run (and hold the lock) for ever.
  const ms = bucket.timeouts.requestMs;
  return idleTimeout(
    object.Body.transformToWebStream() as ReadableStream<Uint8Array>,
    ms,
    () =>
      new ObjectStoreError(
        `Cannot read "${key}" in ${bucket.description}: no data for ${ms} ms (stalled download)`,
        { terminal: false },
      ),
  );
}

/** Copies `from` to `to`, then deletes `from`; with `etag`, only that version. */
async function moveObject(
  bucket: Bucket,
  from: string,
  to: string,
  etag: string | undefined,
): Promise<void> {
  const copiedEtag = await copyObject(bucket, from, to, etag);
  // Servers that ignore the condition copy the new version: a single-part ETag is the
  // content's MD5, so the copy's ETag tells. Undo that copy and leave the source.
  if (etag !== undefined && !etag.includes("-") && copiedEtag !== "" && copiedEtag !== etag) {
    await deleteObject(bucket, to);
    throw new ObjectChangedError(from);
  }
  // No If-Match on the delete: S3-compatible servers differ on it (a refusal would block
  // archiving for ever). The window between this copy and this delete is milliseconds.
  await deleteObject(bucket, from);
}

/** Copies `from` to `to` (with `etag`, only that version); returns the copy's ETag. */
async function copyObject(
  bucket: Bucket,
  from: string,
  to: string,
  etag: string | undefined,
): Promise<string> {
  let copied;
  try {
    copied = await send(
      bucket,
      `copy "${from}" to "${to}"`,
      "s3:GetObject and s3:PutObject",
      () =>
        bucket.client.send(
          new CopyObjectCommand({
            Bucket: bucket.name,
            Key: to,
            CopySource: `${bucket.name}/${from.split("/").map(encodeURIComponent).join("/")}`,
            // Only the version that was applied (servers that honour it answer 412).
            CopySourceIfMatch: etag === undefined ? undefined : `"${etag}"`,
          }),
        ),
    );
  } catch (error) {
    if (etag !== undefined && error instanceof ObjectStoreError && error.status === 412) {
      throw new ObjectChangedError(from, { cause: error });
    }
    throw error;
  }
  return unquote(copied.CopyObjectResult?.ETag);
}

async function deleteObject(bucket: Bucket, key: string): Promise<void> {
  await send(
    bucket,
    `delete "${key}"`,
    "s3:DeleteObject",
    () => bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: key })),
  );
}

/** Passes `body` through, failing it when no chunk arrives for `ms`. */
function idleTimeout(
  body: ReadableStream<Uint8Array>,
  ms: number,
  stalled: () => Error,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(stalled()), ms);
      });
      try {
        const { done, value } = await Promise.race([reader.read(), timeout]);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        reader.cancel(error).catch(() => {});
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}
