// The image's default command (no Docker engine here: its shell guard is run with sh as the
// image's entrypoint would run it, the drain replaced by an echo).

import assert from "node:assert/strict";

const dockerfile = await Deno.readTextFile(new URL("../Dockerfile", import.meta.url));
const cmd: string[] = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!);
const drain = "exec deno task -q ingest --from-bucket --apply --dataset all";

async function runCmd(env: Record<string, string>): Promise<{ code: number; text: string }> {
  assert.deepEqual(cmd.slice(0, 2), ["sh", "-c"]);
  assert.ok(cmd[2]!.endsWith(drain), cmd[2]);
  const out = await new Deno.Command("sh", {
    args: ["-c", cmd[2]!.replace(drain, "echo drained")],
    env,
    clearEnv: true,
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, text: decode(out.stdout) + decode(out.stderr) };
}

Deno.test("the image's default command refuses to drain into a container's embedded database", async () => {
  // Before: the files were applied into .data/pglite inside the container, lost with it, and
  // moved to processed/ all the same (a tester's).
  const refused = await runCmd({ RUSTFS_ENDPOINT: "http://rustfs:9000" });
  assert.equal(refused.code, 2);
  assert.match(
    refused.text,
    /^Cannot drain in this container: DATABASE_URL is not set, .*set DATABASE_URL, or set PGLITE_DIR=\.data\/pglite with a volume on \/app\/\.data\n$/,
  );
  const chosen: Record<string, string>[] = [
    { DATABASE_URL: "postgres://fleet@db/tickets" },
    { PGLITE_DIR: ".data/pglite" },
  ];
  for (const env of chosen) {
    assert.deepEqual(await runCmd(env), { code: 0, text: "drained\n" });
  }
});
