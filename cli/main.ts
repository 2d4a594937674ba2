/**
 * fleettickets command line: parses the command and hands it to `cli/run_<command>.ts`.
 *
 * Exit codes: 0 done (including nothing to do, or another run holds the lock), 1 a file or the
 * run failed, 2 usage or configuration error.
 *
 * @module
 */

import { ConfigError, configSecrets, loadConfig } from "../app/config.ts";
import { PendingMigrationsError } from "../app/open_database.ts";
import { PathNotAllowedError } from "../app/allowed_path.ts";
import { createRedactor } from "../app/redact.ts";
import { DatabaseLockedError } from "../adapters/pglite_database.ts";
import { type Context, defaultIo, type MainIo, SourceError, UsageError } from "./_context.ts";
import { commandHelp, commandList, COMMANDS, seeHelp } from "./_help.ts";
import { explainPermissions, isPermissionError } from "./_permission_message.ts";
import { closest } from "./_suggest.ts";
import { runDb } from "./run_db.ts";
import { runDemo } from "./run_demo.ts";
import { runDoctor } from "./run_doctor.ts";
import { runGazetteer } from "./run_gazetteer.ts";
import { runGeocode } from "./run_geocode.ts";
import { runIngest } from "./run_ingest.ts";
import { runMigrate } from "./run_migrate.ts";
import { runCapture, runReport } from "./run_report.ts";
import { runServe } from "./run_serve.ts";
import { runSql } from "./run_sql.ts";
import { runStatus } from "./run_status.ts";

export type { MainIo };

/** Runs the CLI and returns the process exit code. */
export async function main(args: string[], io: MainIo = defaultIo): Promise<number> {
  // Every line a user sees is redacted and has Deno's --allow-* hints put into words.
  let redact = explainPermissions;
  const out = (text: string) => io.stdout(redact(text) + "\n");
  const err = (text: string) => io.stderr(redact(text) + "\n");
  const [command, ...rest] = args;
  try {
    if (command === undefined) {
      err(commandList());
      return 2;
    }
    if (command === "help" || command === "-h" || command === "--help") {
      out(rest[0] === undefined ? commandList() : commandHelp(rest[0]));
      return 0;
    }
    if (COMMANDS[command] !== undefined && (rest.includes("--help") || rest.includes("-h"))) {
      out(commandHelp(command));
      return 0;
    }
    const config = loadConfig(io.env);
    const hide = createRedactor(configSecrets(config));
    redact = (text) => explainPermissions(hide(text));
    const context: Context = { config, io, redact, out };
    switch (command) {
      case "migrate":
        return await runMigrate(config, out);
      case "ingest":
        return await runIngest(context, rest);
      case "status":
        return await runStatus(context, rest);
      case "geocode":
        return await runGeocode(context, rest);
      case "capture":
        return await runCapture(context, rest);
      case "report":
        return await runReport(context, rest);
      case "gazetteer":
        return await runGazetteer(context, rest);
      case "doctor":
        return await runDoctor(context, rest);
      case "sql":
        return await runSql(context, rest);
      case "db":
        return await runDb(context, rest);
      case "demo":
        return await runDemo({ out });
      case "serve":
        return await runServe(context, rest);
      default: {
        const suggestion = closest(command, Object.keys(COMMANDS));
        throw new UsageError(
          `Unknown command "${command}"${suggestion ? `: did you mean "${suggestion}"?` : ""}`,
        );
      }
    }
  } catch (error) {
    if (error instanceof UsageError) {
      err(`${error.message}\n${seeHelp(command)}`);
      return 2;
    }
    if (error instanceof ConfigError || isPermissionError(error)) {
      err(error.message);
      return 2;
    }
    if (
      error instanceof PendingMigrationsError || error instanceof SourceError ||
      error instanceof PathNotAllowedError
    ) {
      err(error.message);
      return 2;
    }
    if (error instanceof DatabaseLockedError) {
      out(error.message);
      return 0;
    }
    err(`fleettickets: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
