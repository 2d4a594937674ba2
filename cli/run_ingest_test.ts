import assert from "node:assert/strict";
import { INC } from "../core/datasets.ts";
import type { MainIo } from "./_context.ts";
import { main } from "./main.ts";

/**
 * A server that takes connections and never answers: the run waits to connect, and the test's
 * signals come meanwhile.
 */
function silentServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    },
  };
}

Deno.test({
  name:
    "ingest --json ended without waiting (a second signal) still prints its one JSON document, as a failed run",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const server = silentServer();
    const dir = await Deno.makeTempDir({ prefix: "ft-ingest-ended-" });
    await Deno.mkdir(`${dir}/${INC.changesPrefix}`, { recursive: true });
    const vars: Record<string, string> = {
      DATABASE_URL: `postgres://worker:s3cret-pw@127.0.0.1:${server.port}/fleettickets`,
    };
    let stdout = "";
    let stderr = "";
    const exits: number[] = [];
    const io: MainIo = {
      env: (name) => vars[name],
      stdout: (text) => void (stdout += text),
      stderr: (text) => void (stderr += text),
      terminal: { stdout: false, stderr: false },
      onSignal: (handler) => {
        // Stop, then stop again at once (a person pressing Ctrl-C twice), while connecting.
        const timer = setTimeout(() => {
          handler("SIGTERM");
          handler("SIGINT");
        }, 300);
        return () => clearTimeout(timer);
      },
      exit: (code) => void exits.push(code),
    };
    try {
      await main(["ingest", "--from-dir", dir, "--apply", "--json"], io);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
    assert.deepEqual(exits, [1]);
    assert.match(stderr, /Interrupted again by SIGINT: stopped without waiting/);
    // The document printed before the process ended (in the test the run goes on and prints the
    // refused connection's as well). Before: nothing on stdout.
    const first = JSON.parse(stdout.split("\n")[0]!);
    assert.equal(first.status, "failed");
    assert.equal(first.dataset, "inc");
    assert.equal(first.mode, "apply");
    assert.deepEqual(first.files, []);
    assert.match(
      first.error,
      /^Interrupted again by SIGINT: stopped without waiting for the current step: what it had not committed is rolled back; files applied before are kept$/,
    );
    assert.match(first.database, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
    assert.doesNotMatch(stdout + stderr, /s3cret-pw/);
  },
});
