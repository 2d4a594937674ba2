/**
 * Deno's permission errors, in words a `deno task` user can act on: they cannot pass
 * `--allow-*` flags, so the message says what fleettickets may touch and what to change. Private
 * to cli/.
 *
 * @module
 */

const HINT = /Requires (\w+) access to "?([^",]*)"?,? run again with the --allow-\w+ flag/g;

const RULES: Record<string, [allowed: string, remedy: string]> = {
  // deno task runs in the checkout's folder wherever it is typed: "../x" typed in docs/ is
  // outside (a tester's).
  read: [
    "read files inside this checkout",
    "copy it into the checkout and name it from the checkout's folder (deno task runs there, " +
    "wherever it is typed)",
  ],
  write: [
    "write only under ./.data",
    "give a relative name (it is written under .data/) or a path inside ./.data",
  ],
  env: ["read only the variables listed in deno.json", "add it to permissions.worker.env"],
  net: [
    "connect only to the configured hosts",
    "check the host in the configuration (a binary from deno task compile may reach only the " +
    "hosts configured when it was built: build it again with this configuration loaded)",
  ],
};

/** Rewrites every raw Deno permission hint in a text. */
export function explainPermissions(text: string): string {
  return text.replace(HINT, (_all, kind: string, target: string) => refusal(kind, target));
}

/**
 * Why the permission set refuses `kind` access (read, write, env, net) to `target`, and what to
 * do; `what` ("the tiles file MAP_PMTILES") says which setting or flag named it.
 */
export function refusal(kind: string, target: string, what?: string): string {
  const verb = kind === "net" ? "connect to" : kind === "env" ? "read the variable" : kind;
  const [allowed, remedy] = RULES[kind] ??
    [`use ${kind} only as deno.json allows`, "run it as documented"];
  return `Cannot ${verb} ${what === undefined ? "" : `${what} `}"${target}": fleettickets may ` +
    `${allowed} (the permission set in deno.json); ${remedy}`;
}

/** Whether an error is Deno's refusal of an operation outside the permission set. */
export function isPermissionError(error: unknown): error is Error {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}
