// Test helper: a real S3-protocol endpoint for tests, without MinIO.
//
// By default it runs the npm `s3rver` server as a *Node* child process
// (./_s3rver_child.mjs, resolved from the node_modules/ that Deno's
// `"nodeModulesDir": "auto"` creates). Node, not Deno, because s3rver's
// ListObjectsV2 continuation tokens use DES, which needs OpenSSL's legacy
// provider: under Deno (or plain Node) listing past 1000 keys answers
// InternalError.
//
// With TEST_S3_ENDPOINT set it uses that endpoint instead
// (TEST_S3_ACCESS_KEY / TEST_S3_SECRET_KEY / TEST_S3_REGION).
// Either way every call gets a fresh, uniquely named bucket.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { fileURLToPath } from "node:url";

export interface S3TestServer {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  close(): Promise<void>;
}

const S3RVER_KEY = "S3RVER";
const DEFAULT_REGION = "us-east-1";
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * An S3 client for a test server: path-style, short timeouts, and checksums
 * only where the API requires them (s3rver does not understand the
 * aws-chunked/trailing-checksum uploads the SDK otherwise sends for streams).
 */
export function createS3Client(
  server: Pick<S3TestServer, "endpoint" | "region" | "accessKeyId" | "secretAccessKey">,
  overrides: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }),
    maxAttempts: 3,
    ...overrides,
  });
}

function uniqueBucketName(prefix = "test"): string {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  const hex = Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("");
  // 3-63 chars, lowercase letters, digits and hyphens.
  return `${prefix}-${Date.now().toString(36)}-${hex}`.toLowerCase().slice(0, 63);
}

/**
 * Starts s3rver as a Node child process, or uses TEST_S3_ENDPOINT
 * (+ TEST_S3_ACCESS_KEY / TEST_S3_SECRET_KEY / TEST_S3_REGION) when set;
 * creates a fresh uniquely named bucket either way.
 */
export async function startS3TestServer(
  options: { bucket?: string } = {},
): Promise<S3TestServer> {
  const bucket = options.bucket ?? uniqueBucketName();
  const external = Deno.env.get("TEST_S3_ENDPOINT");
  return external ? await useExternal(external, bucket) : await startS3rver(bucket);
}

// ---------------------------------------------------------------- external

async function useExternal(endpoint: string, bucket: string): Promise<S3TestServer> {
  const info = {
    endpoint: endpoint.replace(/\/+$/, ""),
    region: Deno.env.get("TEST_S3_REGION") || DEFAULT_REGION,
    accessKeyId: Deno.env.get("TEST_S3_ACCESS_KEY") ?? "",
    secretAccessKey: Deno.env.get("TEST_S3_SECRET_KEY") ?? "",
    bucket,
  };
  if (!info.accessKeyId || !info.secretAccessKey) {
    throw new Error("TEST_S3_ENDPOINT is set but TEST_S3_ACCESS_KEY / TEST_S3_SECRET_KEY are not");
  }
  const client = createS3Client(info);
  try {
    await client.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(info.region === DEFAULT_REGION
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: info.region as never } }),
      }),
    );
  } catch (err) {
    client.destroy();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    ...info,
    close() {
      closed ??= (async () => {
        try {
          await emptyAndDeleteBucket(client, bucket);
        } finally {
          client.destroy();
        }
      })();
      return closed;
    },
  };
}

async function emptyAndDeleteBucket(client: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length > 0) {
      const res = await client.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }),
      );
      if (res.Errors?.length) {
        throw new Error(
          `could not delete ${res.Errors.length} objects, e.g. ${JSON.stringify(res.Errors[0])}`,
        );
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

// ------------------------------------------------------------------ s3rver

async function startS3rver(bucket: string): Promise<S3TestServer> {
  const script = fileURLToPath(new URL("./_s3rver_child.mjs", import.meta.url));
  const node = Deno.env.get("TEST_S3_NODE") || "node";
  const child = new Deno.Command(node, {
    // --openssl-legacy-provider as a flag, not NODE_OPTIONS: no env to set.
    args: ["--openssl-legacy-provider", script, "--bucket", bucket],
    // stdin stays open for the child's whole life: when this process dies,
    // the pipe closes and the child exits by itself.
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const stderr = drainText(child.stderr);
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let exited = false;
  const status = child.status.finally(() => {
    exited = true;
  });

  const kill = async () => {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await Promise.allSettled([child.stdin.close(), stdout.cancel(), stderr, status]);
  };

  let line: string;
  try {
    line = await withTimeout(
      readLine(stdout),
      START_TIMEOUT_MS,
      "s3rver child did not report its endpoint",
    );
  } catch (err) {
    await kill();
    throw new Error(`${(err as Error).message}\nstderr:\n${await stderr}`);
  }
  const msg = JSON.parse(line) as { endpoint?: string; error?: string };
  if (!msg.endpoint) {
    await kill();
    throw new Error(`s3rver child failed to start: ${msg.error ?? line}\nstderr:\n${await stderr}`);
  }
  // Keep consuming stdout so the child can never block on a full pipe.
  const stdoutDone = (async () => {
    try {
      while (!(await stdout.read()).done) { /* discard */ }
    } catch { /* cancelled */ }
  })();

  let closed: Promise<void> | undefined;
  return {
    endpoint: msg.endpoint,
    region: DEFAULT_REGION,
    accessKeyId: S3RVER_KEY,
    secretAccessKey: S3RVER_KEY,
    bucket,
    close() {
      closed ??= (async () => {
        // Closing stdin asks the child to stop; SIGTERM too, then SIGKILL.
        await child.stdin.close().catch(() => {});
        if (!exited) {
          try {
            child.kill("SIGTERM");
          } catch { /* already gone */ }
        }
        const timer = setTimeout(() => {
          if (!exited) {
            try {
              child.kill("SIGKILL");
            } catch { /* already gone */ }
          }
        }, STOP_TIMEOUT_MS);
        try {
          const { code, signal } = await status;
          await Promise.all([stdoutDone, stderr]);
          if (code !== 0 && signal !== "SIGKILL") {
            throw new Error(
              `s3rver child exited with code ${code} signal ${signal}\nstderr:\n${await stderr}`,
            );
          }
        } finally {
          clearTimeout(timer);
        }
      })();
      return closed;
    },
  };
}

async function readLine(reader: ReadableStreamDefaultReader<string>): Promise<string> {
  let buf = "";
  for (;;) {
    const nl = buf.indexOf("\n");
    if (nl >= 0) return buf.slice(0, nl);
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(
        `s3rver child closed stdout before reporting its endpoint: ${JSON.stringify(buf)}`,
      );
    }
    buf += value;
  }
}

/** Reads a stream to the end, keeping at most the last 64 KiB of text. */
async function drainText(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text = (text + chunk).slice(-65_536);
    }
  } catch { /* cancelled */ }
  return text;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
