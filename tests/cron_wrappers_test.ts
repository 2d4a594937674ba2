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

/**
 * Sources a copy of the wrappers' shared part beside a .env of its own (the checkout's .env is
 * left alone), then runs `then`; the exit code and what it printed.
 */
async function sourceCron(env: string, then: string): Promise<{ code: number; text: string }> {
  const root = await Deno.makeTempDir({ prefix: "ft-cron-env-" });
  try {
    await Deno.mkdir(`${root}/scripts`);
    await Deno.copyFile(`${SCRIPTS}_cron.sh`, `${root}/scripts/_cron.sh`);
    await Deno.writeTextFile(`${root}/.env`, env);
    const out = await new Deno.Command("bash", {
      args: ["-c", `set -euo pipefail; args=(); . "${root}/scripts/_cron.sh"; ${then}`],
      env: { PATH: "/usr/bin:/bin" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { code: out.code, text };
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("the cron wrappers read a .env saved with Windows line endings", async () => {
  const { code, text } = await sourceCron(
    "# prod\r\nFT_A=one\r\nFT_B='two words'\r\n",
    `echo "$FT_A|$FT_B|"`,
  );
  // Before: "$'\r': command not found", exit 127.
  assert.equal(code, 0, text);
  assert.equal(text, "one|two words|\n");
});

Deno.test("the cron wrappers refuse a .env line bash would misread, naming its line and name, never its value", async () => {
  const { code, text } = await sourceCron(
    [
      "# prod",
      "PGLITE_DIR=.data/pglite # the default",
      "DATABASE_URL=postgres://fleet:Kp9$vX2mQ7@db.internal/fleet",
      "RUSTFS_SECRET_KEY = s3cr3tKey",
      "TICKETS_BUCKET='isp$tickets'",
      "",
    ].join("\n"),
    "echo loaded",
  );
  // Before: "vX2mQ7: unbound variable" (the password's tail, in the cron log), and with spaces
  // around "=", "DATABASE_URL: command not found", exit 127.
  assert.equal(code, 2, text);
  assert.equal(
    text,
    `.env line 3: DATABASE_URL's value holds "$" or "\`", which bash would expand: single-quote it (DATABASE_URL='...')\n` +
      `.env line 4: expected NAME=value, without spaces around "="\n`,
  );
  assert.ok(!/Kp9|vX2mQ7|s3cr3t/.test(text), text);
});

Deno.test("the cron wrappers name a byte order mark at the start of .env, and never print the line", async () => {
  const { code, text } = await sourceCron(
    "\uFEFFDATABASE_URL=postgres://fleet:Kp9vX2mQ7@db.internal/fleet\nFT_A=one\n",
    "echo loaded",
  );
  // Before: ".env line 1: expected NAME=value, without spaces around "="" (there were none).
  assert.equal(code, 2, text);
  assert.equal(
    text,
    `.env line 1: the file begins with a UTF-8 byte order mark (BOM), which bash reads as part ` +
      `of the first name: save it without one (sed -i '1s/^\\xEF\\xBB\\xBF//' .env)\n`,
  );
  assert.ok(!/Kp9|vX2mQ7/.test(text), text);
});

Deno.test("the cron wrappers read a value followed by spaces as bash does, without them", async () => {
  const { code, text } = await sourceCron("FT_A=0 \nFT_B='two words'  \n", `echo "$FT_A|$FT_B|"`);
  // Before: "FT_A's value holds a space … single-quote it (FT_A='...')", and FT_A='0 ' was then
  // refused by the setting ("0 " is not seconds).
  assert.equal(code, 0, text);
  assert.equal(text, "0|two words|\n");
});
