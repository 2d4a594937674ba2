// Node ESM script: runs the npm `s3rver` fake S3 server for tests.
//
// Started by _s3_test_server.ts (Deno) as a *Node* child process, because
// s3rver's ListObjectsV2 continuation tokens use DES-CBC, which OpenSSL 3 only
// offers through its legacy provider: start it as
//
//   node --openssl-legacy-provider _s3rver_child.mjs [--port N] [--address A]
//        [--directory DIR] [--bucket NAME]...
//
// Once listening it prints exactly one line of JSON on stdout:
//   {"endpoint":"http://127.0.0.1:PORT"}
// On a start-up failure it prints {"error":"..."} instead and exits 1.
// It exits (status 0) on SIGTERM / SIGINT, or as soon as its stdin closes, so a
// parent that crashes never leaves it running. A directory it created itself
// is removed on exit.
import { createCipheriv } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import S3rver from "s3rver";

function parseArgs(argv) {
  const opts = { port: 0, address: "127.0.0.1", directory: undefined, buckets: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value for ${flag}`);
    switch (flag) {
      case "--port":
        opts.port = Number(value);
        break;
      case "--address":
        opts.address = value;
        break;
      case "--directory":
        opts.directory = value;
        break;
      case "--bucket":
        opts.buckets.push({ name: value });
        break;
      default:
        throw new Error(`unknown argument ${flag}`);
    }
    i++;
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`bad --port ${opts.port}`);
  }
  return opts;
}

function fail(err) {
  process.stdout.write(JSON.stringify({ error: String(err?.stack ?? err) }) + "\n");
  process.exitCode = 1;
}

// Fail fast (instead of an InternalError on the 1001st listed key) when DES is
// not available, i.e. Node was started without --openssl-legacy-provider.
function checkDes() {
  try {
    createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
  } catch (err) {
    throw new Error(
      "DES cipher unavailable (s3rver's ListObjects continuation tokens need it); " +
        `start node with --openssl-legacy-provider: ${err.message}`,
    );
  }
}

let server;
let ownedDir;
let stopping;

function stop(reason) {
  stopping ??= (async () => {
    try {
      if (server?.httpServer) {
        server.httpServer.closeAllConnections?.();
        await server.close();
      }
    } catch { /* already closed */ }
    if (ownedDir) await rm(ownedDir, { recursive: true, force: true }).catch(() => {});
    process.stderr.write(`s3rver child: stopped (${reason})\n`);
    process.exit(0);
  })();
  return stopping;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  checkDes();

  // Register the shutdown paths before anything slow happens.
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.stdin.on("end", () => stop("stdin closed"));
  process.stdin.on("error", () => stop("stdin error"));
  process.stdin.resume();

  const directory = opts.directory ?? (ownedDir = await mkdtemp(join(tmpdir(), "s3rver-")));
  server = new S3rver({
    address: opts.address,
    port: opts.port,
    directory,
    silent: true,
    configureBuckets: opts.buckets,
    // Path-style only: never treat the Host header as a bucket name.
    vhostBuckets: false,
  });
  const { port } = await server.run();
  // Keep-alive sockets from a client that went away must not hold close() up.
  server.httpServer.keepAliveTimeout = 5_000;
  const host = opts.address.includes(":") ? `[${opts.address}]` : opts.address;
  process.stdout.write(JSON.stringify({ endpoint: `http://${host}:${port}` }) + "\n");
}

main().catch(async (err) => {
  fail(err);
  if (ownedDir) await rm(ownedDir, { recursive: true, force: true }).catch(() => {});
  process.exit(1);
});
