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

/**
 * The endpoint is not an S3 server: it answered with something else (a web page, a JSON error,
 * an error without S3's XML document), it does not speak TLS behind `https://`, or it closed
 * every connection without an answer (a port of another service, such as
 * PostgreSQL's). Terminal: rerunning as is cannot help, the endpoint setting must change.
 */
export class NotS3EndpointError extends ObjectStoreError {
  /** Creates the error; `message` names the endpoint (never a credential). */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause, terminal: true });
    this.name = "NotS3EndpointError";
  }
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
  // How messages name the endpoint: the setting and its value (never a user or password).
  const variable = options.endpointVariable ?? "RUSTFS_ENDPOINT";
  const endpointName = options.endpoint === undefined
    ? `AWS S3 (${variable} unset)`
    : `${variable} "${withoutCredentials(options.endpoint)}"`;
  const checkEndpoint = options.endpoint === undefined
    ? `check ${variable} (unset: AWS S3)`
    : `check ${variable} (now "${withoutCredentials(options.endpoint)}")`;
  // Whether the endpoint has answered anything over HTTP (an error too) since the store was made;
  // until it has, a request that gets no answer is not retried, and the silence is remembered.
  let answered = false;
  let silence: string | undefined;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      // Inside the SDK's retry loop (once per attempt), around the parsing of the answer. What is
      // thrown here as an Error of its own is not retried.
      if (silence !== undefined) throw new NoAnswer(silence, true);
      const method = (args.request as { method?: string }).method;
      let result;
      try {
        result = await next(args);
      } catch (error) {
        const e = error as SdkError;
        const status = e.$metadata?.httpStatusCode;
        if (status !== undefined) {
          answered = true;
          // S3's error answers are XML documents with a Code (which the SDK copies onto the
          // error), whatever the request but a HEAD (which has no body, whoever answers): one
          // without (an empty body, a page) is not S3's.
          if (status < 500 && method !== "HEAD" && typeof e.Code !== "string") {
            const body = (error as { $responseBodyText?: unknown }).$responseBodyText;
            throw new NotS3Answer(describeAnswer(status, e.$response?.headers, body));
          }
          throw error;
        }
        // A TLS handshake answered in plain HTTP: https:// to an http:// server (or its port).
        if (!answered && /wrong version number/i.test(e.message ?? "")) throw new NoTls();
        const silent = silenceOf(error);
        if (silent !== undefined && !answered) {
          silence = `${silent} to ${REQUEST_NAMES[context.commandName ?? ""] ?? "a request"}`;
          throw new NoAnswer(silence, false);
        }
        throw error;
      }
      answered = true;
      // A web server may answer a listing with 200 and a page: the SDK then reads an empty list.
      const output = result.output as { Name?: string; IsTruncated?: boolean };
      if (
        context.commandName === "ListObjectsV2Command" && output.Name === undefined &&
        output.IsTruncated === undefined
      ) {
        const response = result.response as { statusCode?: number; headers?: Headers };
        throw new NotS3Answer(describeAnswer(response.statusCode ?? 200, response.headers));
      }
      return result;
    },
    { step: "deserialize", priority: "high", name: "fleetticketsAnswerCheck" },
  );

  // The SDK has already retried what it deems transient; name what failed and say whether a
  // later run can succeed as is.
  async function send<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw describeFailure(`Cannot ${what} in ${description}`, error);
    }
  }
  function describeFailure(head: string, error: unknown): ObjectStoreError {
    const e = error as SdkError;
    const status = e.$metadata?.httpStatusCode;
    const tries = e.$metadata?.attempts ?? 1;
    if (error instanceof NotS3Answer) {
      return new NotS3EndpointError(
        `${head}: the answer is not S3's (${error.answer}); ${checkEndpoint}`,
        { cause: error },
      );
    }
    if (error instanceof NoTls) {
      return new NotS3EndpointError(
        `${head}: the endpoint does not speak TLS (write "http://", or check the port); ` +
          checkEndpoint,
        { cause: error },
      );
    }
    if (error instanceof NoAnswer) {
      return new ObjectStoreError(
        `${head}: ${error.earlier ? "not sent, " : ""}${endpointName} gave ${error.silence}` +
          `${error.earlier ? " earlier in this run" : ""} (is that an S3 server, and is it up?)`,
        { terminal: false, cause: error },
      );
    }
    // Each attempt got the connection closed without a word, or bytes that are not HTTP: no
    // HTTP server does that to every request, another service's port (PostgreSQL's) does.
    const notHttp = answered || status !== undefined ? undefined : notHttpAnswer(error, tries);
    if (notHttp !== undefined) {
      return new NotS3EndpointError(`${head}: ${notHttp}; ${checkEndpoint}`, { cause: error });
    }
    // After an answer, a request left unanswered has had its retries.
    const silent = silenceOf(error);
    if (silent !== undefined) {
      return new ObjectStoreError(
        `${head}: ${silent}, ${countAttempts(tries)} (is that an S3 server, and is it up?)`,
        { terminal: false, cause: error },
      );
    }
    const code = e.name ?? "Error";
    const terminal = TERMINAL_CODES.has(code) || status === 401 || status === 403;
    return new ObjectStoreError(
      `${head}: ${code}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(error)}`,
      { status, terminal, cause: error },
    );
  }
  // The SDK's own text for its two timeouts names its handler, not what to check; other socket
  // errors it also calls TimeoutError keep their text.
  function silenceOf(error: unknown): string | undefined {
    const message = (error as { message?: string }).message ?? "";
    return /requestTimeout/.test(message)
      ? `no answer for ${requestTimeoutMs / 1000} s`
      : /without establishing a connection/.test(message)
      ? `no connection within ${connectionTimeoutMs / 1000} s`
      : undefined;
  }
  return {
    description,
    async checkBucket() {
      const head = `Cannot read ${description}`;
      let status: number | undefined;
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
      } catch (error) {
        const failure = describeFailure(head, error);
        // No answer at all: the run could only send nothing more, so it fails here, saying so.
        if (failure instanceof NotS3EndpointError || error instanceof NoAnswer) throw failure;
        status = failure.status;
        if (status === undefined || status >= 500) return; // left to the run
      }
      // A HEAD answer has no body to tell an S3 server's 404 from a web server's: ask once for
      // one that has (only when the HEAD failed).
      try {
        await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: "automations/", MaxKeys: 1 }),
        );
      } catch (error) {
        const failure = describeFailure(head, error);
        if (failure instanceof NotS3EndpointError) throw failure;
        if (status === 404 || failure.status === 404) {
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
    async listAnywhere(limit) {
      const page = await send(
        "list the bucket",
        () => client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: limit })),
      );
      return (page.Contents ?? []).flatMap((item) => item.Key === undefined ? [] : [item.Key]);
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

/** What the SDK's errors carry (an S3 error also has the document's `Code`). */
interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  Code?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { headers?: Headers };
}

type Headers = Record<string, string | undefined>;

/** An answer that is not S3's, thrown inside the SDK's retry loop (which does not retry it). */
class NotS3Answer extends Error {
  constructor(readonly answer: string) {
    super(`The answer is not S3's (${answer})`);
    this.name = "NotS3Answer";
  }
}

/** A TLS handshake that got plain HTTP back, thrown inside the SDK's retry loop. */
class NoTls extends Error {
  constructor() {
    super("The endpoint does not speak TLS");
    this.name = "NoTls";
  }
}

/** How a silence names the request that got it. */
const REQUEST_NAMES: Record<string, string> = {
  HeadBucketCommand: "the bucket check",
  ListObjectsV2Command: "a listing",
  GetObjectCommand: "a download",
  CopyObjectCommand: "a copy",
  DeleteObjectCommand: "a delete",
};

/**
 * No answer from an endpoint that never answered, thrown inside the SDK's retry loop (which does
 * not retry it: no cause, no code it knows).
 */
class NoAnswer extends Error {
  constructor(readonly silence: string, readonly earlier: boolean) {
    super(`The endpoint gave ${silence}`);
    this.name = "NoAnswer";
  }
}

function header(headers: Headers | undefined, name: string): string | undefined {
  const found = Object.entries(headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return found?.[1];
}

/** `an HTML page, status 404`, from the answer's status, content type and body (if read). */
function describeAnswer(status: number, headers: Headers | undefined, body?: unknown): string {
  const type = header(headers, "content-type");
  const empty = header(headers, "content-length") === "0" || body === "";
  const kind = type === undefined && empty
    ? "an empty answer"
    : type === undefined
    ? "no content type"
    : /html/i.test(type)
    ? "an HTML page"
    : /json/i.test(type)
    ? "a JSON document"
    : /^text\/plain/i.test(type)
    ? "plain text"
    : `content type "${type.split(";")[0]}"`;
  return `${kind}, status ${status}`;
}

/** What a connection that ended without an HTTP answer got, if that is what happened. */
function notHttpAnswer(error: unknown, tries: number): string | undefined {
  const { code, message } = error as { code?: unknown; message?: string };
  if (typeof code === "string" && code.startsWith("HPE_")) {
    return "the answer is not HTTP (another service's port?)";
  }
  return code === "ECONNRESET" || code === "EPIPE" || /socket hang up/.test(message ?? "")
    ? `the endpoint closed the connection without an answer, ${
      countAttempts(tries)
    } (not an HTTP server)`
    : undefined;
}

function countAttempts(n: number): string {
  return `${n} attempt${n === 1 ? "" : "s"}`;
}

/** The endpoint as configured, without a user or password it may carry. */
function withoutCredentials(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
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
