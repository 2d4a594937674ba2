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
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { ObjectStore, StoredObject } from "./ports.ts";

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
  /** Milliseconds of socket inactivity before a request fails (default 30000). */
  requestTimeoutMs?: number;
  /** Attempts per request including the first, with backoff (default 4). */
  maxAttempts?: number;
}

/** Creates an object store over one S3 bucket. */
export function createS3ObjectStore(options: S3ObjectStoreOptions): ObjectStore {
  const { bucket } = options;
  const client = new S3Client({
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
      connectionTimeout: options.connectionTimeoutMs ?? 5000,
      requestTimeout: options.requestTimeoutMs ?? 30000,
      // Without it node-http-handler 4 only logs a warning and the request hangs on.
      throwOnRequestTimeout: true,
    }),
  });
  const where = options.endpoint === undefined ? "" : ` at ${new URL(options.endpoint).host}`;
  return {
    description: `s3://${bucket}${where}`,
    async list(prefix) {
      const found: StoredObject[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
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
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (object.Body === undefined) throw new TypeError(`Cannot read "${key}": empty response`);
      return object.Body.transformToWebStream() as ReadableStream<Uint8Array>;
    },
    async move(from, to) {
      await client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: to,
          CopySource: `${bucket}/${from.split("/").map(encodeURIComponent).join("/")}`,
        }),
      );
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: from }));
    },
  };
}

function unquote(etag: string | undefined): string {
  return (etag ?? "").replace(/^"|"$/g, "");
}
