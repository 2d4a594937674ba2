import assert from "node:assert/strict";
import { isTransient } from "../core/is_transient.ts";
import { connect, createServer } from "node:net";
import {
  bracketedHosts,
  connectPostgresDatabase,
  createPostgresDatabase,
  describeTarget,
  lostInWords,
  notPostgresAnswer,
} from "./postgres_database.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
/** A message: its type byte, then a length that counts itself, then the body. */
const message = (type: string, body: number[] = []) =>
  Uint8Array.of(type.charCodeAt(0), 0, 0, 0, 4 + body.length, ...body);

Deno.test("notPostgresAnswer() lets through every first answer a PostgreSQL server gives", () => {
  for (
    const chunk of [
      message("R", [0, 0, 0, 0]), // AuthenticationOk (trust)
      message("R", [0, 0, 0, 10, ...bytes("SCRAM-SHA-256"), 0, 0]), // SASL
      message("E", [...bytes("SFATAL"), 0, ...bytes("C57P03"), 0, 0]), // starting up
      message("v", [0, 0, 0, 0, 0, 0, 0, 0]),
      bytes("S"), // yes to TLS
      bytes("N"), // no TLS
      Uint8Array.of(0x52, 0, 0), // a first chunk too short to judge
    ]
  ) assert.equal(notPostgresAnswer(chunk), undefined, String(chunk));
});

Deno.test("notPostgresAnswer() names what another service sent: its first line, or its bytes", () => {
  assert.equal(
    notPostgresAnswer(bytes("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")),
    'it begins "HTTP/1.1 400 Bad Request"',
  );
  // "S" and "E" are bytes PostgreSQL sends first too, but not followed by these.
  assert.equal(
    notPostgresAnswer(bytes("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")),
    'it begins "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"',
  );
  assert.equal(
    notPostgresAnswer(bytes("Error: this is a proxy, and it is rather wordy about it today\n")),
    'it begins "Error: this is a proxy, and it is rather…"',
  );
  assert.equal(
    notPostgresAnswer(Uint8Array.of(0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28)), // a TLS alert
    "its first bytes are 15 03 01 00 02 02 28",
  );
  assert.equal(
    notPostgresAnswer(Uint8Array.of(0x4a, 0, 0, 0, 0x0a, 0x38, 0x2e, 0x30, 0x2e, 0x33, 0x36)),
    "its first bytes are 4a 00 00 00 0a 38 2e 30 …", // a MySQL greeting
  );
});

Deno.test("describeTarget() names host, port and database, and the user's database when the URL names none, never the password", () => {
  assert.equal(
    describeTarget("postgres://fleet:pw@db.example:6543/tickets"),
    'at db.example:6543 (database "tickets")',
  );
  // Before: (database "(default)"), while PostgreSQL connected to "fleet".
  assert.equal(
    describeTarget("postgres://fleet:s3cret@10.0.0.5", undefined),
    `at 10.0.0.5:5432 (database "fleet", the user's: DATABASE_URL names none)`,
  );
  assert.equal(
    describeTarget("postgres://fleet:s3cret@10.0.0.5", "tickets"),
    `at 10.0.0.5:5432 (database "tickets", PGDATABASE's: DATABASE_URL names none)`,
  );
  assert.equal(
    describeTarget("postgresql://h1,h2:5433/", undefined),
    "at h1:5432, h2:5433 (database not named in DATABASE_URL)",
  );
  assert.ok(!describeTarget("postgres://fleet:s3cret@10.0.0.5").includes("s3cret"));
});

Deno.test("lostInWords() tells a lost connection plainly, naming the server, and keeps its code and the original as cause", () => {
  const where = 'PostgreSQL at db.internal:5432 (database "fleet")';
  const closed = Object.assign(new Error("write CONNECTION_CLOSED db.internal:5432"), {
    code: "CONNECTION_CLOSED",
  });
  const told = lostInWords(closed, where) as Error & { code: string };
  assert.equal(told.name, "ConnectionLostError");
  assert.equal(
    told.message,
    'Lost the connection to PostgreSQL at db.internal:5432 (database "fleet"): the server stopped or restarted, ended this session (pg_terminate_backend, an idle timeout), or the network dropped it (CONNECTION_CLOSED)',
  );
  assert.equal(told.code, "CONNECTION_CLOSED");
  assert.equal(told.cause, closed);
  assert.equal(isTransient(told), true);
  assert.equal(lostInWords(told, where), told); // told once, not twice

  const ended = Object.assign(new Error("write CONNECTION_DESTROYED db.internal:5432"), {
    code: "CONNECTION_DESTROYED",
  });
  assert.match(
    (lostInWords(ended, where) as Error).message,
    /: this process closed it while a statement ran \(it was stopping\) \(CONNECTION_DESTROYED\)$/,
  );
  // PostgreSQL's own words stay.
  const admin = Object.assign(new Error("terminating connection due to administrator command"), {
    code: "57P01",
  });
  assert.equal(lostInWords(admin, where), admin);
});

Deno.test({
  name: "close() cancels a statement still running once its wait is over: the server stops it",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = Deno.env.get("TEST_DATABASE_URL")!;
    const db = createPostgresDatabase(url);
    const watcher = createPostgresDatabase(url);
    try {
      const mark = `close-test-${crypto.randomUUID()}`;
      const running = db.query(`select pg_sleep(30), '${mark}'`).catch((error) => error);
      // Two more waiting for the pool's one connection: a statement queued, and a transaction whose
      // statement is asked for once it has a connection (after the cancel freed it): serve's reads.
      const queued = db.query(`select pg_sleep(30), '${mark}' as q`).catch((error) => error);
      const session = db.transaction((s) => s.query(`select pg_sleep(30), '${mark}' as s`))
        .catch((error) => error);
      const active = () =>
        watcher.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where query like $1 and pid <> pg_backend_pid()`,
          [`%${mark}%`],
        );
      for (let i = 0; i < 100 && (await active())[0]!.n === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const started = performance.now();
      await db.close(0.3);
      assert.ok(performance.now() - started < 3000, "bounded");
      assert.ok(await running instanceof Error, "the statement was stopped");
      assert.ok(await queued instanceof Error, "the queued statement was never sent");
      const refused = await session;
      assert.ok(refused instanceof Error, "the transaction's statement was refused");
      // Before: the server went on with it (30 s here) after the pool had ended.
      let left = 1;
      for (let i = 0; i < 50 && left > 0; i++) {
        left = (await active())[0]!.n;
        if (left > 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(left, 0, "no statement left running on the server");
    } finally {
      await watcher.close();
    }
  },
});

Deno.test({
  name:
    "a statement that fails after sending rows (a timeout mid-result) leaves the session's next answer whole",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = createPostgresDatabase(Deno.env.get("TEST_DATABASE_URL")!);
    try {
      const next = await db.session!(async (tx) => {
        // Two rows go out, then the third fails (as a statement timeout can, after rows).
        const failed = await tx.query(
          `select case when g < 3 then g else 1 / (g - 3) end as g from generate_series(1, 5) g`,
        ).then(() => undefined, (error) => error);
        assert.ok(failed instanceof Error, "the statement failed");
        return await tx.query<{ dataset: string }>(`select 'inc' as dataset`);
      });
      // Before: [<2 empty items>, { dataset: "inc" }]: serve's version read then failed with
      // "Cannot read properties of undefined (reading 'dataset')", a 500 (a map tester's).
      assert.equal(next.length, 1);
      assert.deepEqual([...next], [{ dataset: "inc" }]);
    } finally {
      await db.close();
    }
  },
});

Deno.test("bracketedHosts() reads IPv6 addresses in a URL's hosts, and leaves other URLs to postgres.js", () => {
  assert.deepEqual(bracketedHosts("postgres://u:p@[::1]:5433,db2/x?sslmode=require"), {
    host: ["::1", "db2"],
    port: [5433, 5432],
  });
  assert.deepEqual(bracketedHosts("postgres://u@[fe80::1]/x"), { host: ["fe80::1"], port: [5432] });
  assert.equal(bracketedHosts("postgres://u:p@db:5433/x"), undefined);
  assert.equal(describeTarget("postgres://u@[::1]/x"), 'at [::1]:5432 (database "x")');
  assert.equal(describeTarget("postgres://u@[::1]:6432/x"), 'at [::1]:6432 (database "x")');
});

Deno.test({
  name:
    "a DATABASE_URL naming an IPv6 address connects (before: ENOTFOUND, the host cut at its first colon)",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const url = new URL(Deno.env.get("TEST_DATABASE_URL")!);
    // A forwarder on IPv6's loopback to the test server (which may listen on 127.0.0.1 only).
    const server = createServer((client) => {
      const upstream = connect(Number(url.port || 5432), url.hostname);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "::1", resolve));
    const { port } = server.address() as { port: number };
    const v6 = new URL(url.href);
    v6.hostname = "[::1]";
    v6.port = String(port);
    const db = createPostgresDatabase(v6.href);
    try {
      assert.match(db.description ?? "", new RegExp(`at \\[::1\\]:${port} `));
      assert.deepEqual(await db.query(`select 1 as one`), [{ one: 1 }]);
    } finally {
      await db.close();
      server.close();
    }
  },
});

/** A server that refuses every login as PostgreSQL does a wrong password (28P01). */
async function refusingServer(): Promise<{ port: number; close: () => void }> {
  const field = (code: string, text: string) => [code.charCodeAt(0), ...bytes(text), 0];
  const body = [
    ...field("S", "FATAL"),
    ...field("C", "28P01"),
    ...field("M", 'password authentication failed for user "fleet"'),
    0,
  ];
  const refusal = Uint8Array.of(
    "E".charCodeAt(0),
    ...new Uint8Array(new Uint32Array([4 + body.length]).buffer).reverse(),
    ...body,
  );
  const server = createServer((socket) => {
    socket.once("data", () => socket.end(refusal));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

Deno.test({
  name: "a refused password names where it came from: DATABASE_URL, PGPASSWORD, or neither " +
    '(before: "check DATABASE_URL" for a wrong PGPASSWORD too)',
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await refusingServer();
    const saved = Deno.env.get("PGPASSWORD");
    const refusal = async (url: string) => {
      const error = await connectPostgresDatabase(url, { connectTimeout: 5 }).then(
        () => assert.fail("connected"),
        (e: Error) => e,
      );
      return error.message.replace(/^.*password authentication failed for user "fleet"; /, "");
    };
    try {
      const at = `127.0.0.1:${server.port}/fleet`;
      Deno.env.delete("PGPASSWORD");
      assert.equal(
        await refusal(`postgres://fleet:wrong-pw-9@${at}`),
        "check the user and password in DATABASE_URL",
      );
      assert.equal(
        await refusal(`postgres://fleet@${at}`),
        "DATABASE_URL names no password, and PGPASSWORD is not set: put the user's password in " +
          "DATABASE_URL, after the user name and a colon (user:…@host)",
      );
      Deno.env.set("PGPASSWORD", "wrong-pw-9");
      const fromEnv = await refusal(`postgres://fleet@${at}`);
      assert.equal(
        fromEnv,
        "check PGPASSWORD (DATABASE_URL names no password, so PGPASSWORD's was sent) and the " +
          "user in DATABASE_URL",
      );
    } finally {
      if (saved === undefined) Deno.env.delete("PGPASSWORD");
      else Deno.env.set("PGPASSWORD", saved);
      server.close();
    }
  },
});
