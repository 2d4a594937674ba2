/**
 * `deno task compile`: builds `dist/fleettickets` with the `worker` permission set from
 * deno.json (the one definition every `deno task` entry uses), narrowing network access to the
 * hosts the configuration in the environment points at: the database, the S3 endpoint and the
 * geocoder. Run it where the binary will run, with the production `.env` loaded.
 *
 * ```sh
 * set -a; . ./.env; set +a
 * deno task compile            # builds dist/fleettickets
 * deno task compile --print    # prints the deno compile command only
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { databaseUrlHosts, geocoderProvider } from "../app/config.ts";
import { dotEnvSet } from "../app/dot_env_set.ts";

const GEOCODER_HOSTS: Readonly<Record<string, string>> = {
  locationiq: "https://us1.locationiq.com",
  opencage: "https://api.opencagedata.com",
  nominatim: "https://nominatim.openstreetmap.org",
};

/** The `permissions.worker` entry of deno.json. */
export interface PermissionSet {
  read?: string[];
  write?: string[];
  env?: string[];
  net?: boolean | string[];
  sys?: boolean | string[];
}

/** A configuration compile cannot use: printed alone, exit 2. */
export class CompileError extends Error {}

/**
 * Hosts (`host:port`) the configured worker talks to. A geocoder provider the worker would refuse
 * is refused here too (before: the binary was built with unrestricted network access).
 */
export function configuredHosts(env: Record<string, string | undefined>): string[] {
  // Read as the worker reads its settings: trimmed, and blank as unset.
  const get = (name: string) => env[name]?.trim() || undefined;
  const hosts = new Set<string>();
  const add = (url: string, name: string) => {
    if (!URL.canParse(url)) throw new CompileError(`Cannot read ${name}: it is not a URL`);
    const u = new URL(url);
    if (u.hostname === "") return; // a Unix socket needs no network
    const port = u.port ||
      (u.protocol === "https:" ? "443" : u.protocol === "http:" ? "80" : "5432");
    hosts.add(`${u.hostname}:${port}`); // an IPv6 address keeps its brackets, as --allow-net wants
  };
  const databaseUrl = get("DATABASE_URL");
  if (databaseUrl) { for (const host of databaseHosts(databaseUrl)) hosts.add(host); }
  const s3 = get("RUSTFS_ENDPOINT") || get("AWS_ENDPOINT_URL_S3");
  if (s3) add(s3, get("RUSTFS_ENDPOINT") ? "RUSTFS_ENDPOINT" : "AWS_ENDPOINT_URL_S3");
  else {
    // AWS itself, path-style: the regional endpoint.
    const region = get("RUSTFS_REGION") || get("AWS_REGION") || "us-east-1";
    hosts.add(`s3.${region}.amazonaws.com:443`);
  }
  // The worker's own reading (in any case, locationiq when unset; any other refused, whatever
  // GEOCODER_BASE_URL says: the provider names the API too). Before: an unknown provider built
  // the binary with every host allowed.
  const provider = geocoderProvider(get);
  const baseUrl = get("GEOCODER_BASE_URL");
  add(baseUrl ?? GEOCODER_HOSTS[provider]!, baseUrl ? "GEOCODER_BASE_URL" : "GEOCODER_PROVIDER");
  return [...hosts].sort();
}

/**
 * The `host:port` entries of a DATABASE_URL (port 5432 when none is given); the error quotes no
 * part of it (it holds a password).
 */
function databaseHosts(url: string): string[] {
  const hosts = databaseUrlHosts(url);
  if (hosts === undefined) {
    throw new CompileError(
      `Cannot read DATABASE_URL: expected "postgres://user:password@host:port/db"`,
    );
  }
  return hosts.filter((host) => host !== "").map((host) => {
    const [, name, port] = /^\[?(.*?)\]?(?::(\d+))?$/.exec(host)!;
    // Before: "::1:5432", which deno compile refuses ("ipv6 addresses must be enclosed in square
    // brackets"): a tester's.
    return `${name!.includes(":") ? `[${name}]` : name}:${port ?? "5432"}`;
  });
}

/** The variables that name the hosts the binary may reach. */
const HOST_SETTINGS = [
  "DATABASE_URL",
  "RUSTFS_ENDPOINT",
  "AWS_ENDPOINT_URL_S3",
  "RUSTFS_REGION",
  "AWS_REGION",
  "GEOCODER_PROVIDER",
  "GEOCODER_BASE_URL",
];

/**
 * The host settings a `.env` text sets to a value that the environment lacks: built without
 * them, the binary may not reach the hosts they name, and fails there with "EPERM" (before: built
 * in silence from whatever the shell held; a tester's).
 */
export function unloadedHostSettings(
  dotEnv: string,
  env: Record<string, string | undefined>,
): string[] {
  return dotEnvSet(dotEnv).filter((name) => HOST_SETTINGS.includes(name) && !env[name]?.trim());
}

/**
 * Where the binary's `serve` may listen: loopback (its default, also by the name `localhost`) or
 * every interface.
 */
export const SERVE_LISTEN = ["127.0.0.1", "localhost", "0.0.0.0"];

/** The `deno compile` arguments for `set`, with network limited to `hosts`. */
export function compileArgs(set: PermissionSet, hosts: string[]): string[] {
  const list = (flag: string, values?: string[]) =>
    values && values.length > 0 ? [`--allow-${flag}=${values.join(",")}`] : [];
  const net = set.net ? list("net", [...hosts, ...SERVE_LISTEN]) : [];
  return [
    "compile",
    "--no-prompt",
    ...list("read", set.read),
    ...list("write", set.write),
    ...list("env", set.env),
    ...(set.sys === true ? ["--allow-sys"] : list("sys", set.sys || [])),
    ...net,
    "--include",
    "migrations",
    "--include",
    "definitions",
    "--include",
    "web",
    // `demo` reads its gazetteer at run time (before: the binary's demo had none; a tester's).
    "--include",
    "demo/gazetteer.csv",
    // The embedded database's PostGIS, read when PGlite starts (adapters/pglite_postgis.ts).
    "--include",
    "vendor/pglite-postgis/postgis.tar.gz",
    "--output",
    "dist/fleettickets",
    "main.ts",
  ];
}

/** What `deno task compile` says to `--help` and to a flag it does not know. */
const USAGE = "Usage: deno task compile [--print]\n" +
  "  Builds dist/fleettickets with the worker permission set, its network narrowed to the hosts\n" +
  "  the environment configures (load .env first). --print: print the deno compile command only";

/** `compile`'s flags: `--print`; exits 0 after `--help`, 2 after a flag it does not know. */
function compileFlags(args: string[]): { print?: boolean } {
  try {
    const { values } = parseArgs({
      args,
      options: { print: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    return values;
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    Deno.exit(2);
  }
}

if (import.meta.main) {
  const values = compileFlags(Deno.args);
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  const set: PermissionSet | undefined = config.permissions?.worker;
  if (!set) throw new TypeError(`Cannot find the "worker" permission set in deno.json`);
  const dotEnv = await Deno.readTextFile(".env").catch(() => "");
  const unloaded = unloadedHostSettings(dotEnv, Deno.env.toObject());
  if (unloaded.length > 0) {
    console.error(
      `Cannot build dist/fleettickets: .env sets ${unloaded.join(", ")} but the environment ` +
        `has none: the binary may reach only the hosts the environment names now; load .env ` +
        `first (set -a; . ./.env; set +a), then run deno task compile again`,
    );
    Deno.exit(2);
  }
  let hosts: string[];
  try {
    hosts = configuredHosts(Deno.env.toObject());
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(2);
  }
  const args = compileArgs(set, hosts);
  console.log(["deno", ...args].join(" "));
  if (!values.print) {
    const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
    if (code !== 0) {
      console.error(
        `Cannot build dist/fleettickets: "deno compile" failed (above). It downloads the Deno ` +
          `runtime for the binary from dl.deno.land the first time (or set DENORT_BIN to a ` +
          `denort binary of the same version); where that is not reachable, run the worker with ` +
          `"deno task ingest" instead (the same permission set)`,
      );
    }
    Deno.exit(code);
  }
}
