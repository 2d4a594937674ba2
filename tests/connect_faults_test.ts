// Connection faults (issue 11, items 6 and 7): a DATABASE_URL whose port answers but is not
// PostgreSQL, a port that accepts and never answers, a multi-host URL whose first host is down,
// and SIGTERM while connecting. Every command gives up within PGCONNECT_TIMEOUT, names host:port
// and database (never the password), and a signal ends it promptly. A port that is not
// PostgreSQL's is a setting to fix (exit 2, not transient); the others may pass (exit 1).

import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { createScratchDatabase, removeTestDataAtEnd } from "./_harness.ts";
import { SETTLED } from "./_cli.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";

const SECRET = "pw-never-printed";

function spawn(args: string[], env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=worker", "--quiet", "main.ts", ...args],
    // A folder's files apply at once: each test writes them just before it runs the CLI.
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...SETTLED, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function run(args: string[], env: Record<string, string>) {
  const started = performance.now();
  const output = await spawn(args, env).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: output.code,
    text: decode(output.stdout) + decode(output.stderr),
    stdout: decode(output.stdout),
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * A TCP server on loopback: `http` answers like a web server, `silent` accepts and says nothing,
 * `reset` accepts and resets the connection at the first bytes (a proxy refusing the protocol).
 */
async function fakeServer(
  kind: "http" | "silent" | "reset",
): Promise<{ port: number; connected: Promise<void>; close(): void }> {
  const sockets = new Set<Socket>();
  let onConnection = () => {};
  const connected = new Promise<void>((resolve) => onConnection = resolve);
  const server: Server = createServer((socket) => {
    onConnection();
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    if (kind === "http") {
      socket.once("data", () => {
        socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      });
    } else if (kind === "reset") {
      socket.once("data", () => socket.resetAndDestroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connected,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = await fakeServer("silent");
  server.close();
  return server.port;
}

const env = (url: string) => ({ DATABASE_URL: url, PGCONNECT_TIMEOUT: "2" });

/** An empty folder bucket (inside .data, where the worker may archive). */
const buckets: string[] = [];

/** Removes the buckets made so far (tests run one at a time within this file). */
async function removeBuckets(): Promise<void> {
  for (const dir of buckets.splice(0)) await Deno.remove(dir, { recursive: true });
  await Deno.remove(".data/test-connect").catch(() => {}); // once empty
}

async function emptyBucket(): Promise<string> {
  const dir = `.data/test-connect/${crypto.randomUUID()}`;
  buckets.push(dir);
  await Deno.mkdir(`${dir}/automations/inc/changes`, { recursive: true });
  return dir;
}

/** A port that answers with bytes of its own on connect (a banner), then closes. */
function bannerServer(banner: Uint8Array): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      conn.write(banner).catch(() => {}).finally(() => setTimeout(() => conn.close(), 100));
    }
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

/**
 * A TCP relay to `to`: `cut()` closes it and every connection (the server gone: connections
 * lost, new ones refused). With `refuseTls`, PostgreSQL without TLS in front of one that has it:
 * it answers a TLS request "N" itself, as a server with ssl = off does.
 */
function relay(
  to: { hostname: string; port: number },
  options: { refuseTls?: boolean } = {},
): { port: number; cut(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pass = async (client: Deno.Conn) => {
    open.add(client);
    const server = await Deno.connect(to);
    open.add(server);
    if (options.refuseTls) {
      const first = new Uint8Array(8);
      for (let got = 0; got < 8;) {
        const n = await client.read(first.subarray(got));
        if (n === null) return client.close();
        got += n;
      }
      // SSLRequest: length 8, code 80877103.
      const tls = first[4] === 0x04 && first[5] === 0xd2 && first[6] === 0x16 && first[7] === 0x2f;
      await (tls ? client.write(new TextEncoder().encode("N")) : server.write(first));
    }
    client.readable.pipeTo(server.writable).catch(() => {});
    server.readable.pipeTo(client.writable).catch(() => {});
  };
  (async () => {
    for await (const conn of listener) pass(conn).catch(() => {});
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed by its pipe */ }
      }
    },
  };
}

Deno.test({
  name: "ingest, status and serve refuse a port that is not PostgreSQL at its first bytes " +
    "(exit 2, not transient), naming DATABASE_URL's host:port, never the password",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A web server (as `deno task serve`'s or an S3 server's port), an SSH banner (its "S" is a
    // byte PostgreSQL sends too), and bytes that are nothing at all before the port closes.
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("not a database"),
    );
    const ssh = bannerServer(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2p1\r\n"));
    const garbage = bannerServer(Uint8Array.of(0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28));
    const servers: [number, RegExp][] = [
      [http.addr.port, /\(it begins "HTTP\/1\.1 400 Bad Request"\)/],
      [ssh.port, /\(it begins "SSH-2\.0-OpenSSH_9\.2p1"\)/],
      [garbage.port, /\(its first bytes are 15 03 01 00 02 02 28\)/],
    ];
    try {
      const bucket = await emptyBucket();
      for (const [port, answer] of servers) {
        const url = `postgres://fleet:${SECRET}@127.0.0.1:${port}/tickets`;
        for (
          const args of [
            ["ingest", "--from-dir", bucket, "--apply", "--log-format", "text"],
            ["status"],
            ["serve", "--port", "0"],
          ]
        ) {
          // A 10 s connect timeout: the answer is judged at its first bytes, not waited out.
          const r = await run(args, { DATABASE_URL: url, PGCONNECT_TIMEOUT: "10" });
          assert.equal(r.code, 2, `${args[0]}: ${r.text}`);
          assert.ok(r.seconds < 5, `${args[0]} gave up after ${r.seconds} s`);
          assert.match(
            r.text,
            new RegExp(
              `Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database "tickets"\\): ` +
                `the answer is not PostgreSQL's \\(.*\\), another service listens there; ` +
                `check the host and port in DATABASE_URL`,
            ),
          );
          assert.match(r.text, answer);
          assert.doesNotMatch(r.text, /^fleettickets:/m, "a setting to fix, not a crash");
          assert.ok(!r.text.includes(SECRET), r.text);
        }
      }
    } finally {
      await http.shutdown();
      ssh.close();
      garbage.close();
      await removeBuckets();
    }
  },
});

/** Whether this machine has IPv6 loopback (a container may have it turned off). */
function hasIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: 'a refused connection to an IPv6 host says "Cannot connect" once, naming it',
  ignore: !hasIpv6Loopback(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const down = await closedPort(); // on 127.0.0.1: nothing listens on ::1 there either
    const r = await run(["status"], env(`postgres://fleet:${SECRET}@[::1]:${down}/tickets`));
    assert.equal(r.code, 1, r.text);
    // Before: `… (database "tickets"): Cannot connect to PostgreSQL at ::1:…: connection refused`.
    assert.match(
      r.text,
      new RegExp(
        `^Cannot connect to PostgreSQL at \\[::1\\]:${down} \\(database "tickets"\\): ` +
          `(connection refused|[^\n]*unreachable)`,
      ),
    );
    assert.equal(r.text.match(/Cannot connect/g)?.length, 1, r.text);
  },
});

Deno.test({
  name: "a multi-host URL names the host whose answer is not PostgreSQL's",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const http = await fakeServer("http");
    const down = await closedPort();
    try {
      const url = `postgres://fleet:${SECRET}@127.0.0.1:${down},127.0.0.1:${http.port}/tickets`;
      const r = await run(["status"], { DATABASE_URL: url, PGCONNECT_TIMEOUT: "10" });
      assert.equal(r.code, 2, r.text);
      assert.match(
        r.text,
        new RegExp(
          `at 127\\.0\\.0\\.1:${down}, 127\\.0\\.0\\.1:${http.port} \\(database "tickets"\\): ` +
            `the answer from 127\\.0\\.0\\.1:${http.port} is not PostgreSQL's`,
        ),
      );
    } finally {
      http.close();
    }
  },
});

Deno.test({
  name:
    "a port that accepts the connection and resets it says so and asks whether PostgreSQL listens there",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const reset = await fakeServer("reset");
    try {
      const url = `postgres://fleet:${SECRET}@127.0.0.1:${reset.port}/tickets`;
      const r = await run(["status"], env(url));
      assert.equal(r.code, 1, r.text);
      assert.match(
        r.text,
        new RegExp(
          `Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${reset.port} \\(database "tickets"\\): .*ECONNRESET; ` +
            `the port took the connection and dropped it without a word: is PostgreSQL listening there\\? ` +
            `\\(check the host and port in DATABASE_URL\\)`,
        ),
      );
      assert.ok(!r.text.includes(SECRET), r.text);
    } finally {
      reset.close();
    }
  },
});

Deno.test({
  name: "a port that accepts and never answers is named with its host, port and the timeout",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const silent = await fakeServer("silent");
    try {
      const r = await run(["status"], env(`postgres://fleet:${SECRET}@127.0.0.1:${silent.port}/t`));
      assert.equal(r.code, 1, r.text);
      assert.ok(r.seconds < 10, `gave up after ${r.seconds} s`);
      assert.match(
        r.text,
        new RegExp(`127\\.0\\.0\\.1:${silent.port} \\(database "t"\\) within 2 s`),
      );
      assert.doesNotMatch(r.text, /undefined/);
    } finally {
      silent.close();
      await removeBuckets();
    }
  },
});

Deno.test({
  name: "a multi-host URL whose hosts are all down gives up in bounded time, naming every host",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const url = `postgres://fleet:${SECRET}@127.0.0.1:${a},127.0.0.1:${b}/tickets`;
    const bucket = await emptyBucket();
    for (const args of [["ingest", "--from-dir", bucket, "--log-format", "text"], ["status"]]) {
      const r = await run(args, env(url));
      assert.equal(r.code, 1, r.text);
      assert.ok(r.seconds < 10, `${args[0]} gave up after ${r.seconds} s`);
      assert.match(r.text, new RegExp(`127\\.0\\.0\\.1:${a}, 127\\.0\\.0\\.1:${b}`));
      assert.match(r.text, /connection refused \(ECONNREFUSED\): nothing listens on that port/);
      assert.ok(!r.text.includes(SECRET), r.text);
    }
    await removeBuckets();
  },
});

Deno.test({
  name: "ingest under cron logs a database it cannot use as a JSON run line per dataset, " +
    "transient as the error is (exit 1, or 2 for a setting to fix); on a terminal the plain line",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const http = await fakeServer("http");
    const base = Deno.env.get("TEST_DATABASE_URL");
    const other = (change: (url: URL) => void) => {
      const url = new URL(base!);
      change(url);
      return url.toString();
    };
    const cases: [string, RegExp, boolean, number][] = [
      [
        `postgres://fleet:${SECRET}@127.0.0.1:${await closedPort()}/tickets`,
        /Cannot connect to PostgreSQL at .*: connection refused/,
        true,
        1,
      ],
      [
        `postgres://fleet:${SECRET}@127.0.0.1:${http.port}/tickets`,
        /the answer is not PostgreSQL's/,
        false,
        2,
      ],
      ...(base === undefined ? [] : [
        [
          other((u) => u.pathname = "/ft_no_such_database"),
          /database "ft_no_such_database" does not exist; check the database's name in DATABASE_URL/,
          false,
          2, // a setting to fix (before: 1)
        ] as [string, RegExp, boolean, number],
        [
          other((u) => [u.username, u.password] = ["ft_no_such_role", SECRET]),
          /role "ft_no_such_role" does not exist; check the user in DATABASE_URL/,
          false,
          2,
        ] as [string, RegExp, boolean, number],
      ]),
    ];
    try {
      const bucket = await emptyBucket();
      for (const [url, message, transient, code] of cases) {
        const args = ["ingest", "--from-dir", bucket, "--apply", "--dataset", "all"];
        const r = await run(args, env(url));
        assert.equal(r.code, code, r.text);
        assert.ok(!r.text.includes(SECRET), r.text);
        const lines = r.text.trim().split("\n").filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l));
        // The bucket has INC's folder only: CRQ's missing one is a JSON warning too.
        assert.deepEqual(lines.map((l) => [l.level, l.event, l.dataset, l.status, l.transient]), [
          ["warn", "no_changes_folder", "crq", undefined, undefined],
          ["error", "run", "inc", "failed", transient],
          ["error", "run", "crq", "failed", transient],
        ], r.text);
        assert.ok(r.text.split("\n").every((l) => l === "" || l.startsWith("{")), r.text);
        assert.match(lines[1].error, message);
        const text = await run([...args, "--log-format", "text"], env(url));
        assert.equal(text.code, code, text.text);
        assert.doesNotMatch(text.text, /^\{/m);
        assert.match(text.text, message);
      }
    } finally {
      http.close();
      await removeBuckets();
    }
  },
});

Deno.test({
  name: "a multi-host URL whose first host is down connects to the next one",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = new URL(await createScratchDatabase(Deno.env.get("TEST_DATABASE_URL")!));
    const down = await closedPort();
    const multi = url.toString().replace(url.host, `127.0.0.1:${down},${url.host}`);
    const r = await run(["migrate"], env(multi));
    assert.equal(r.code, 0, r.text);
    const status = await run(["status", "--json"], env(multi));
    assert.ok(status.code === 0 || status.code === 1, status.text);
    assert.ok(
      Array.isArray(JSON.parse(status.text.slice(0, status.text.lastIndexOf("}") + 1)).datasets),
    );
  },
});

Deno.test({
  name:
    "sslmode=require against a server without TLS says the server may not accept TLS and names " +
    "sslmode: a setting to fix (exit 2, not transient), not an outage to retry",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    // CI's server offers TLS (tests/postgres_tls_test.ts): one without it, in front of it.
    const plain = relay({ hostname: url.hostname, port: Number(url.port || 5432) }, {
      refuseTls: true,
    });
    try {
      url.port = String(plain.port);
      await refusedTls(url);
    } finally {
      plain.cut();
    }
  },
});

/** What status and ingest say to sslmode=require against `url`'s server without TLS. */
async function refusedTls(url: URL): Promise<void> {
  url.searchParams.set("sslmode", "require");
  const r = await run(["status"], env(url.toString()));
  // Before: exit 1, and ingest's report said transient (cron: "the next run retries it as is").
  assert.equal(r.code, 2, r.text);
  assert.match(r.text, /Cannot connect to PostgreSQL at .*: .*TLS/);
  assert.match(r.text, /the server may not accept TLS: check sslmode in DATABASE_URL/);
  const ingest = await run(
    ["ingest", "--from-dir", await emptyBucket(), "--apply", "--json"],
    env(url.toString()),
  );
  assert.equal(ingest.code, 2, ingest.text);
  const report = JSON.parse(ingest.stdout);
  assert.equal(report.transient, false);
  assert.match(report.error, /the server may not accept TLS/);
}

Deno.test({
  name: "a DATABASE_URL naming a database or role the server does not have, or a query-string " +
    "name it does not know, is a setting to fix " +
    "(exit 2, not transient) for every command, serve too",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const noDatabase = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    noDatabase.pathname = "/ft_test_no_such_database";
    const noRole = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    noRole.username = "ft_test_no_such_role";
    // A typo in the query string, which the client sends the server as a setting (before: exit
    // 1 and the server's words alone).
    const typo = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    typo.searchParams.set("sslmod", "disable");
    for (
      const [url, said] of [
        [
          noDatabase,
          /database "ft_test_no_such_database" does not exist; check the database's name in DATABASE_URL\n$/,
        ],
        [noRole, /role "ft_test_no_such_role" does not exist; check the user in DATABASE_URL\n$/],
        [
          typo,
          /: unrecognized configuration parameter "sslmod"; "sslmod" in DATABASE_URL's query string is no setting the server knows \(the client sends it every name it does not read itself\): did you mean "sslmode"\?\n$/,
        ],
      ] as const
    ) {
      for (const args of [["status"], ["serve", "--port", "0"], ["report"]]) {
        const r = await run(args, env(url.toString()));
        // Before: exit 1, as for an outage a rerun could get past.
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.text}`);
        assert.match(r.text, said);
      }
    }
    const ingest = await run(
      ["ingest", "--from-dir", await emptyBucket(), "--apply", "--json"],
      env(noDatabase.toString()),
    );
    assert.equal(ingest.code, 2, ingest.text);
    assert.equal(JSON.parse(ingest.stdout).transient, false);
  },
});

Deno.test({
  name: "SIGTERM while ingest is connecting ends it promptly with exit 1",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const silent = await fakeServer("silent");
    try {
      const child = spawn(["ingest", "--from-dir", await emptyBucket(), "--apply"], {
        DATABASE_URL: `postgres://fleet:${SECRET}@127.0.0.1:${silent.port}/tickets`,
        PGCONNECT_TIMEOUT: "60",
      });
      await silent.connected; // the worker is connecting now
      const sent = performance.now();
      child.kill("SIGTERM");
      const output = await child.output();
      const seconds = (performance.now() - sent) / 1000;
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 1, text);
      assert.ok(seconds < 10, `ended ${seconds} s after SIGTERM (connect timeout 60 s)`);
      // No terminal, as under cron: the run's JSON line, naming the signal (before: one plain
      // text line, "Cannot run ingest: stopped connecting to PostgreSQL …: interrupted").
      const lines = text.trim().split("\n").map((line) => JSON.parse(line));
      const run = lines.find((line) => line.event === "run");
      assert.match(
        run?.error ?? text,
        /^Interrupted by SIGTERM while connecting to PostgreSQL at 127\.0\.0\.1:\d+ \(database "tickets"\)$/,
      );
      assert.ok(!text.includes(SECRET), "no password");
    } finally {
      silent.close();
      await removeBuckets();
    }
  },
});

for (const [command, writes] of [["status", false], ["migrate", true]] as const) {
  Deno.test({
    name: `SIGTERM while ${command} is connecting ends it with exit 143 and a line saying so`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const silent = await fakeServer("silent");
      try {
        const child = spawn([command], {
          DATABASE_URL: `postgres://fleet:${SECRET}@127.0.0.1:${silent.port}/tickets`,
          PGCONNECT_TIMEOUT: "60",
        });
        await silent.connected;
        const sent = performance.now();
        child.kill("SIGTERM");
        const output = await child.output();
        const seconds = (performance.now() - sent) / 1000;
        const stderr = new TextDecoder().decode(output.stderr);
        assert.equal(output.code, 143, stderr);
        assert.ok(seconds < 10, `ended ${seconds} s after SIGTERM (connect timeout 60 s)`);
        // Before: exit 143 and nothing on stderr.
        assert.equal(
          stderr,
          `Interrupted by SIGTERM: "${command}" ended before it finished` +
            (writes ? "; what it had not committed rolls back, run it again\n" : "\n"),
        );
      } finally {
        silent.close();
      }
    },
  });
}

Deno.test({
  name: "close() after the server went away (connection lost, reconnects refused) ends at once " +
    "[PostgreSQL: set TEST_DATABASE_URL]",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    const hop = relay({ hostname: url.hostname, port: Number(url.port || 5432) });
    url.port = String(hop.port);
    const db = createPostgresDatabase(url.href, { connectTimeout: 5 });
    await db.query("select 1");
    hop.cut();
    await assert.rejects(db.query("select 1"));
    await assert.rejects(db.query("select 1")); // a new connection, refused
    const started = performance.now();
    await db.close();
    // Before: 5 s, postgres.js ending a connection that could only try to reconnect (a run
    // exited 5 s after its last line: a tester's).
    const took = performance.now() - started;
    assert.ok(took < 1000, `close() took ${Math.round(took)} ms`);
  },
});

removeTestDataAtEnd();
