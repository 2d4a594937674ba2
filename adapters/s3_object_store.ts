/**
 * S3 adapter (`@aws-sdk/client-s3`): rustfs, MinIO or AWS; path-style addressing, explicit
 * timeouts (the SDK's default request timeout is infinite) and bounded retries.
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
import { ObjectChangedError, ObjectStoreError } from "../core/ports/mod.ts";
import type { ObjectStore, StoredObject } from "../core/ports/mod.ts";

// Answers no retry can change: wrong keys, missing rights, a bucket that is not there.
const TERMINAL_CODES = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "NoSuchBucket",
  "InvalidBucketName",
  "AccountProblem",
  "PermanentRedirect",
]);

/** Connection settings for {@linkcode createS3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** Endpoint URL, e.g. `https://s3.example.com`; omit for AWS. */
  endpoint?: string;
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
  /** Attempts per request including the first, with backoff (default 4). */
  maxAttempts?: number;
}

/** The configured bucket does not exist (a typo in `TICKETS_BUCKET`, the wrong endpoint). */
export class BucketNotFoundError extends ObjectStoreError {
  /** Creates the error naming the bucket. */
  constructor(description: string, bucket: string) {
    super(`Cannot read ${description}: the bucket "${bucket}" does not exist (TICKETS_BUCKET)`, {
      status: 404,
      terminal: true,
    });
    this.name = "BucketNotFoundError";
  }
}

/** An S3 object store that can check its bucket exists. */
export interface S3ObjectStore extends ObjectStore {
  /**
   * Throws {@linkcode BucketNotFoundError} when the bucket does not exist. Any other answer
   * (a refusal, a network error) is left to the run, which reports it with its key.
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
  const { bucket } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30000;
  const attempts = options.maxAttempts ?? 4;
  const connectionTimeoutMs = options.connectionTimeoutMs ?? 5000;
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? "us-east-1",
    forcePathStyle: true,
    credentials: {
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
    },
    maxAttempts: attempts,
    // Only where the API requires them: several S3-compatible servers reject the SDK's newer
    // default checksum modes.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: new NodeHttpHandler({
      connectionTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Without it node-http-handler 4 only logs a warning and the request hangs on.
      throwOnRequestTimeout: true,
    }),
  });
  const where = options.endpoint === undefined ? "" : ` at ${new URL(options.endpoint).host}`;
  const description = `s3://${bucket}${where}`;
  // The SDK has already retried what it deems transient; name what failed and say whether a
  // later run can succeed as is.
  async function send<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      const e = error as {
        name?: string;
        message?: string;
        $metadata?: { httpStatusCode?: number };
      };
      const status = e.$metadata?.httpStatusCode;
      const code = e.name ?? "Error";
      // The SDK's own text for its two timeouts names its handler, not what to check; other
      // socket errors it also calls TimeoutError keep their text.
      const silent = /requestTimeout/.test(e.message ?? "")
        ? `no answer for ${requestTimeoutMs / 1000} s`
        : /without establishing a connection/.test(e.message ?? "")
        ? `no connection within ${connectionTimeoutMs / 1000} s`
        : undefined;
      if (silent !== undefined) {
        throw new ObjectStoreError(
          `Cannot ${what} in ${description}: ${silent}, ${attempts} attempts (is that an S3 ` +
            `server, and is it up?)`,
          { terminal: false, cause: error },
        );
      }
      const terminal = TERMINAL_CODES.has(code) || status === 401 || status === 403;
      throw new ObjectStoreError(
        `Cannot ${what} in ${description}: ${code}${status ? ` (HTTP ${status})` : ""}: ${
          e.message ?? String(error)
        }`,
        { status, terminal, cause: error },
      );
    }
  }
  return {
    description,
    async checkBucket() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (error) {
        const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.$metadata?.httpStatusCode === 404 || e.name === "NoSuchBucket") {
          throw new BucketNotFoundError(description, bucket);
        }
      }
    },
    async list(prefix) {
      const found: StoredObject[] = [];
      let token: string | undefined;
      do {
        const page = await send(
          `list "${prefix}"`,
          () =>
            client.send(
              new ListObjectsV2Command({
                Bucket: bucket,
                Prefix: prefix,
                ContinuationToken: token,
              }),
            ),
        );
        for (const item of page.Contents ?? []) {
          if (item.Key === undefined) continue;
          found.push({ key: item.Key, etag: unquote(item.ETag), size: item.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return found;
    },
    async read(key) {
      const object = await send(
        `read "${key}"`,
        () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
      );
      if (object.Body === undefined) throw new TypeError(`Cannot read "${key}": empty response`);
      // The handler's socket timeout does not cover the body under Deno: a stalled download
      // would hang the run (and hold the lock) for ever.
      return idleTimeout(
        object.Body.transformToWebStream() as ReadableStream<Uint8Array>,
        requestTimeoutMs,
        () =>
          new Error(
            `Cannot read "${key}" in ${description}: no data for ${requestTimeoutMs} ms (stalled download)`,
          ),
      );
    },
    async move(from, to, options) {
      const etag = options?.etag;
      let copied;
      try {
        copied = await send(
          `copy "${from}" to "${to}"`,
          () =>
            client.send(
              new CopyObjectCommand({
                Bucket: bucket,
                Key: to,
                CopySource: `${bucket}/${from.split("/").map(encodeURIComponent).join("/")}`,
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
      // Servers that ignore the condition copy the new version: a single-part ETag is the
      // content's MD5, so the copy's ETag tells. Undo that copy and leave the source.
      const copiedEtag = unquote(copied.CopyObjectResult?.ETag);
      if (etag !== undefined && !etag.includes("-") && copiedEtag !== "" && copiedEtag !== etag) {
        await send(
          `delete "${to}"`,
          () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: to })),
        );
        throw new ObjectChangedError(from);
      }
      // No If-Match on the delete: S3-compatible servers differ on it (a refusal would block
      // archiving for ever). The window between this copy and this delete is milliseconds.
      await send(
        `delete "${from}"`,
        () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: from })),
      );
    },
  };
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
