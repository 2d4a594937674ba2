import assert from "node:assert/strict";
import { NoSchemaYetError, writeRefusedHint } from "./write_refused.ts";

const refused = (code: string, message: string) => Object.assign(new Error(message), { code });
const FIX = "the worker needs the schema owner's role in DATABASE_URL";

Deno.test("writeRefusedHint() names the role of a read-only transaction and the fix", () => {
  const readOnly = refused("25006", "cannot execute INSERT in a read-only transaction");
  assert.equal(
    writeRefusedHint(readOnly, { role: "fleettickets_reader", standby: false }),
    `the database role "fleettickets_reader" may not write (read-only transactions by default); ${FIX}`,
  );
  assert.equal(
    writeRefusedHint(readOnly, { role: "fleettickets_reader", standby: true }),
    "the server is a standby, which is read only; DATABASE_URL must name the primary",
  );
  // Who is not known (the connection is closed): both causes are named.
  assert.equal(
    writeRefusedHint(readOnly, { role: "fleettickets_reader" }),
    `the database role "fleettickets_reader" may not write (read-only transactions by default, ` +
      `or a standby server); ${FIX}, on the primary`,
  );
});

Deno.test("writeRefusedHint() names a missing privilege, found through a wrapper", () => {
  const denied = refused("42501", "permission denied for table applied_files");
  const wrapped = new Error("Cannot capture", { cause: denied });
  assert.equal(
    writeRefusedHint(wrapped, { role: "fleettickets_reader" }),
    `the database role "fleettickets_reader" lacks the rights the worker needs on the schema; ${FIX}`,
  );
  assert.equal(
    writeRefusedHint(denied),
    `the database role lacks the rights the worker needs on the schema; ${FIX}`,
  );
});

Deno.test("writeRefusedHint() says nothing of any other failure", () => {
  assert.equal(writeRefusedHint(refused("42P01", 'relation "x" does not exist')), undefined);
  assert.equal(writeRefusedHint(new Error("write ECONNRESET")), undefined);
  assert.equal(writeRefusedHint("a string"), undefined);
});

Deno.test("a role without CREATE on a database with no schema yet is told the grant, not to use the schema owner's role", () => {
  const refusal = refused("42501", "permission denied for database nocreatedb");
  const error = new Error("Cannot migrate", {
    cause: new NoSchemaYetError("nocreatedb", { cause: refusal }),
  });
  assert.equal(
    writeRefusedHint(error, { role: "fleettickets", standby: false }),
    'the database role "fleettickets" may not create the schema in database "nocreatedb"; as its ' +
      'owner or a superuser run: grant create on database "nocreatedb" to "fleettickets" (or make ' +
      "that role the database's owner)",
  );
  // The same refusal where the schema exists: the role is not its owner (the usual hint).
  assert.equal(
    writeRefusedHint(refusal, { role: "fleettickets" }),
    `the database role "fleettickets" lacks the rights the worker needs on the schema; ${FIX}`,
  );
});
