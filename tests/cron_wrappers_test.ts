// The cron wrappers (scripts/run_ingest.sh, scripts/run_geocode.sh) as a minimal environment runs
// them: no HOME (a systemd unit without User=), called through a symbolic link.

import assert from "node:assert/strict";
import { dirname } from "node:path";

const SCRIPTS = new URL("../scripts/", import.meta.url).pathname;

Deno.test("the cron wrappers run without HOME and through a symbolic link, reaching the worker", async () => {
  const links = await Deno.makeTempDir({ prefix: "ft-cron-links-" });
  try {
    for (
      const [wrapper, args, refusal] of [
        ["run_ingest.sh", ["--from-dir", ".data/no-such-feed"], /Cannot read the folder/],
        ["run_geocode.sh", ["--budget", "-1"], /--budget/],
      ] as const
    ) {
      await Deno.symlink(`${SCRIPTS}${wrapper}`, `${links}/${wrapper}`);
      const out = await new Deno.Command(`${links}/${wrapper}`, {
        args: [...args],
        env: { PATH: `${dirname(Deno.execPath())}:/usr/bin:/bin` },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      // Before: "HOME: unbound variable" without HOME, "_cron.sh: No such file" through a link.
      assert.doesNotMatch(text, /unbound variable|No such file/, text);
      assert.match(text, refusal, text);
      assert.equal(out.code, 2, text);
    }
  } finally {
    await Deno.remove(links, { recursive: true });
  }
});
