/**
 * fleettickets command line: parses the command and hands it to `cli/run_<command>.ts`.
 *
 * Exit codes: 0 done (including nothing to do, or, for ingest, another run holds the lock), 1 a
 * file or the run failed (or the embedded database is held by another process), 2 usage or
 * configuration error.
 *
 * @module
 */

import { checkDotEnvNames, unloadedEnvWarning } from "./_dot_env_names.ts";
import {
  type Config,
  ConfigError,
  configSecrets,
  databaseUrlUser,
  loadConfig,
} from "../app/config.ts";
import { PendingMigrationsError } from "../app/open_database.ts";
import { SchemaRefusedError } from "../core/migrate.ts";
import { PathNotAllowedError } from "../app/allowed_path.ts";
import { createRedactor } from "../app/redact.ts";
import { DatabaseLockedError, nameLockHolder } from "../adapters/pglite_database.ts";
import { besideServe } from "./_held_by_serve.ts";
import {
  type Context,
  defaultIo,
  type MainIo,
  namingCommand,
  SourceError,
  UsageError,
} from "./_context.ts";
import { commandHelp, commandList, COMMANDS, seeHelp } from "./_help.ts";
import { explainPermissions, isPermissionError } from "./_permission_message.ts";
import { closest } from "./_suggest.ts";
import { writeRefusedHint } from "../core/write_refused.ts";

export type { MainIo };

/** An unknown command, with the nearest known one when it looks like a typo. */
function unknownCommand(command: string): UsageError {
  const suggestion = closest(command, Object.keys(COMMANDS));
  return new UsageError(
    `Unknown command "${command}"${suggestion ? `: did you mean "${suggestion}"?` : ""}`,
  );
}

/** Runs the CLI and returns the process exit code. */
export async function main(args: string[], io: MainIo = defaultIo): Promise<number> {
  // Every line a user sees is redacted and has Deno's --allow-* hints put into words.
  let redact = explainPermissions;
  const out = (text: string) => io.stdout(redact(text) + "\n");
  const err = (text: string) => io.stderr(redact(text) + "\n");
  const [command, ...rest] = args;
  let role: string | undefined;
  try {
    if (command === undefined) {
      err(commandList());
      return 2;
    }
    if (printHelp(command, rest, out)) return 0;
    let config: Config;
    let dotEnv: string | undefined;
    try {
      config = loadConfig(io.env);
      dotEnv = await io.dotEnv?.();
      const misspelled = dotEnv === undefined ? undefined : checkDotEnvNames(dotEnv);
      if (misspelled !== undefined) throw misspelled;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return await refuseConfig(command, rest, error, { io, out });
    }
    await warnUnloaded(command, rest, await unloadedWarning(command, dotEnv, config), io);
    role = databaseRole(config, io.env);
    const hide = createRedactor(configSecrets(config));
    redact = (text) => explainPermissions(hide(text));
    const unwatch = watchPlainStop(command, config, io);
    try {
      return await runCommand(command, rest, { config, io, redact, out });
    } finally {
      unwatch();
    }
  } catch (error) {
    const said: string[] = [];
    const code = failed(command, error, (text) => {
      said.push(text);
      err(text);
    }, role);
    // A reader of `report --json` gets a document on a failure too (before: nothing on stdout,
    // where `status --json` prints its unknown health: a tester's).
    if (JSON_ERRORS.has(command ?? "") && rest.includes("--json") && said.length > 0) {
      out(JSON.stringify({ error: said.join("\n") }));
    }
    return code;
  }
}

/**
 * {@linkcode unloadedEnvWarning}, naming the embedded database the command will use: a command
 * that reads what is there uses the demo's while the default folder has none (before: it named
 * the default folder, and the next line said the demo's was read; an operator's).
 */
async function unloadedWarning(
  command: string,
  dotEnv: string | undefined,
  config: Config,
): Promise<string | undefined> {
  const warning = unloadedEnvWarning(command, dotEnv, config);
  if (warning === undefined || command === "migrate" || command === "ingest") return warning;
  const demoDir = await (await import("./_config_to_read.ts")).demoToRead(config);
  return demoDir === undefined
    ? warning
    : unloadedEnvWarning(command, dotEnv, { ...config, pgliteDir: demoDir });
}

/** Says that `.env` was not loaded: under cron, ingest says it as its JSON log line. */
async function warnUnloaded(
  command: string,
  rest: string[],
  warning: string | undefined,
  io: Context["io"],
): Promise<void> {
  if (warning === undefined) return;
  if (command !== "ingest") return io.stderr(warning);
  (await import("./run_ingest.ts")).warnBeforeIngest(io, rest, "env_not_loaded", warning);
}

/** Commands whose `--json` prints `{"error": …}` on stdout when they fail (the rest say theirs). */
const JSON_ERRORS = new Set(["report", "capture"]);

/** The commands that write to the database (a role that may not write fails them). */
const WRITING_COMMANDS = new Set(["migrate", "ingest", "capture", "geocode", "gazetteer"]);

/** Commands that handle SIGINT/SIGTERM themselves (stop cleanly, or keep a file whole). */
const OWN_SIGNALS = new Set(["ingest", "geocode", "serve", "db", "demo"]);

/**
 * A signal to a command on PostgreSQL that does not handle it itself ends it saying so, with exit
 * 130 (SIGINT) or 143 (SIGTERM) as before: before, a `status` stopped while it connected ended
 * with no line. On the embedded database the default stays, ending the process at once even while
 * PGlite holds the thread (a listener would wait for it).
 */
function watchPlainStop(command: string, config: Config, io: MainIo): () => void {
  if (OWN_SIGNALS.has(command) || config.databaseUrl === undefined) return () => {};
  const writes = WRITING_COMMANDS.has(command) || command === "sql";
  return io.onSignal((signal) => {
    io.stderr(
      `Interrupted by ${signal}: "${command}" ended before it finished` +
        (writes ? "; what it had not committed rolls back, run it again\n" : "\n"),
    );
    io.exit?.(signal === "SIGINT" ? 130 : 143);
  });
}

/**
 * The PostgreSQL role the commands connect as: DATABASE_URL's user, else PGUSER (never the
 * password); undefined on the embedded database.
 */
function databaseRole(config: Config, env: (name: string) => string | undefined) {
  if (config.databaseUrl === undefined) return undefined;
  return databaseUrlUser(config.databaseUrl) ?? env("PGUSER");
}

/**
 * A configuration that cannot be read, in the form the command promises: a scheduled ingest's
 * run line, `status --json`'s unknown health, `doctor`'s failed check; else the error (exit 2).
 */
async function refuseConfig(
  command: string,
  rest: string[],
  error: ConfigError,
  { io, out }: { io: MainIo; out: (text: string) => void },
): Promise<number> {
  if (command === "ingest") return (await import("./run_ingest.ts")).refuseIngest(io, rest, error);
  if (command === "status" && rest.includes("--json")) {
    out(JSON.stringify({ healthy: false, error: error.message, datasets: [] }));
  }
  if (command === "doctor") {
    const { printChecks } = await import("./run_doctor.ts");
    printChecks(
      [{
        name: "configuration",
        result: "fail",
        detail: error.message,
        remedy: "fix that variable (in .env or the environment), then run doctor again",
      }],
      rest.includes("--json"),
      out,
    );
    return 2;
  }
  throw error;
}

/**
 * `help [COMMAND]`, or `COMMAND --help`: prints the help asked for and returns true; false when
 * none was asked for.
 */
function printHelp(command: string, rest: string[], out: (text: string) => void): boolean {
  if (command === "help" || command === "-h" || command === "--help") {
    // `help --help` (and `help -h`) is help too.
    const topic = rest[0] === "--help" || rest[0] === "-h" ? undefined : rest[0];
    if (topic !== undefined && COMMANDS[topic] === undefined) throw unknownCommand(topic);
    out(topic === undefined ? commandList() : commandHelp(topic));
    return true;
  }
  if (COMMANDS[command] !== undefined && (rest.includes("--help") || rest.includes("-h"))) {
    out(commandHelp(command));
    return true;
  }
  return false;
}

/** Hands the command to its `cli/run_<command>.ts`; returns its exit code. */
async function runCommand(command: string, rest: string[], context: Context): Promise<number> {
  nameLockHolder(command); // in the embedded database's lock file, for whoever finds it held
  // Each command's module is loaded when it runs: an ingest never loads the read API, the
  // embedded database or the S3 SDK it does not use (a no-op run starts ~100 ms sooner).
  switch (command) {
    case "migrate":
      return await (await import("./run_migrate.ts")).runMigrate(context.config, rest, context.out);
    case "ingest":
      return await (await import("./run_ingest.ts")).runIngest(context, rest);
    case "status":
      return await (await import("./run_status.ts")).runStatus(context, rest);
    case "geocode":
      return await (await import("./run_geocode.ts")).runGeocode(context, rest);
    case "capture":
      return await (await import("./run_report.ts")).runCapture(context, rest);
    case "report":
      return await (await import("./run_report.ts")).runReport(context, rest);
    case "gazetteer":
      return await (await import("./run_gazetteer.ts")).runGazetteer(context, rest);
    case "doctor":
      return await (await import("./run_doctor.ts")).runDoctor(context, rest);
    case "sql":
      return await (await import("./run_sql.ts")).runSql(context, rest);
    case "db":
      return await (await import("./run_db.ts")).runDb(context, rest);
    case "demo":
      if (rest.length > 0) {
        throw new UsageError(`Unexpected argument "${rest[0]}": demo takes none`);
      }
      return await (await import("./run_demo.ts")).runDemo({ out: context.out });
    case "serve":
      return await (await import("./run_serve.ts")).runServe(context, rest);
    default:
      throw unknownCommand(command);
  }
}

/** Says why the command failed, on stderr; returns its exit code. */
function failed(
  command: string | undefined,
  error: unknown,
  err: (text: string) => void,
  role?: string,
): number {
  // The reader of our output went away (`db export - | head`): stop quietly, as a shell
  // command does on SIGPIPE (128 + 13).
  if (error instanceof Deno.errors.BrokenPipe) return 141;
  if (error instanceof UsageError) {
    err(`${error.message}\n${seeHelp(command)}`);
    return 2;
  }
  if (error instanceof ConfigError || isPermissionError(error)) {
    err(error.message);
    return 2;
  }
  // `db` has one action: name it as the user typed it.
  const name = command === "db" ? "db export" : command;
  if (error instanceof PendingMigrationsError || error instanceof SchemaRefusedError) {
    // The refusal is the schema's, whichever command met it: say which did.
    err(namingCommand(error.message, name));
    return 2;
  }
  if (error instanceof SourceError || error instanceof PathNotAllowedError) {
    err(error.message);
    return 2;
  }
  if (error instanceof DatabaseLockedError) {
    // A command did not do what it was asked (ingest says itself that it skipped, exit 0).
    const held = `${error.message[0]!.toLowerCase()}${error.message.slice(1)}`;
    err(
      error.heldByServe
        ? `Cannot run ${name}: ${held}, and keeps it until stopped; ${
          besideServe(name ?? "it", error)
        }`
        : `Cannot run ${name}: ${held}; try again once it has finished (a running ` +
          `"deno task serve" holds it too)`,
    );
    return 1;
  }
  // Our own messages say what could not be done; anything else (the database's words) is put
  // in the same form: `Cannot run sql: syntax error at or near "selec"`.
  const message = error instanceof Error ? error.message : String(error);
  // A reader's DATABASE_URL given to a command that writes: the server's words name no cause.
  const hint = WRITING_COMMANDS.has(command ?? "") ? writeRefusedHint(error, { role }) : undefined;
  const said = hint === undefined ? message : `${message}: ${hint}`;
  err(/^Cannot /.test(said) ? said : `Cannot run ${name}: ${goingOn(said)}`);
  // A role that may not write is a setting to fix, as a refused password is (before: exit 1).
  return hint === undefined ? 1 : 2;
}

/**
 * A sentence of ours after "Cannot run X:" goes on in lower case (`Cannot run sql: lost the …`);
 * a name (`SQL`, `EXPORT`) keeps its capitals.
 */
function goingOn(said: string): string {
  return /^[A-Z][a-z]/.test(said) ? said[0]!.toLowerCase() + said.slice(1) : said;
}
