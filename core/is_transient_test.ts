import assert from "node:assert/strict";
import { ChangeFileError } from "./change_file_error.ts";
import { isTransient } from "./is_transient.ts";
import { ObjectStoreError } from "./ports/mod.ts";

const pg = (code: string, message = "x") => Object.assign(new Error(message), { code });

Deno.test("isTransient() says a rerun can help for connection, server and truncation failures", () => {
  for (
    const error of [
      pg("ECONNRESET"),
      pg("CONNECTION_CLOSED"),
      pg("57P01"), // terminated by an administrator
      pg("40001"), // serialization failure
      pg("40P01"), // deadlock
      pg("55P03"), // lock not available
      pg("53300"), // too many connections
      pg("08006"),
      new Error("read 10 bytes, the listing said 20"),
      new ObjectStoreError("503 SlowDown", { terminal: false }),
    ]
  ) assert.equal(isTransient(error), true, error.message + (error as { code?: string }).code);
});

Deno.test("isTransient() says a rerun fails the same way for data, limit and permission errors", () => {
  for (
    const error of [
      pg("42501", "permission denied for table inc"),
      pg("54000", "index row size 4016 exceeds btree version 4 maximum 2704"),
      pg("22P05", "unsupported Unicode escape sequence"),
      pg("25006", "cannot execute INSERT in a read-only transaction"),
      pg("53200", "out of memory"),
      pg("53100", "could not extend file: No space left on device"),
      pg("23505"),
      new ChangeFileError("k.csv", "has no header row"),
      new ObjectStoreError("AccessDenied", { terminal: true }),
      new Deno.errors.PermissionDenied("Requires write access"),
      new Deno.errors.NotCapable("Requires write access"),
      pg("28P01", 'password authentication failed for user "tickets"'),
      pg("28000", 'no pg_hba.conf entry for host "10.0.0.5", user "tickets"'),
      pg("3D000", 'database "fleet" does not exist'),
    ]
  ) assert.equal(isTransient(error), false, error.message);
});

Deno.test("isTransient() judges a wrapped error by what it wraps", () => {
  const wrapped = (cause: Error) =>
    new Error('Cannot connect to PostgreSQL at db:5432 (database "fleet")', { cause });
  assert.equal(isTransient(wrapped(pg("28P01", "password authentication failed"))), false);
  assert.equal(isTransient(wrapped(pg("3D000", 'database "fleet" does not exist'))), false);
  assert.equal(isTransient(wrapped(pg("ECONNREFUSED", "connect ECONNREFUSED"))), true);
  assert.equal(
    isTransient(new Error("the server accepted the connection but never answered")),
    true,
  );
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  (a as { cause?: unknown }).cause = b; // a cycle
  assert.equal(isTransient(a), true, "ends, as an error of unknown kind");
});
