/**
 * What every command gets: configuration, output, the redactor; flag parsing and usage errors. Private to cli/.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Config } from "../app/config.ts";
import { parseDecimal } from "../app/parse_decimal.ts";
import { type Dataset, DATASETS } from "../core/datasets.ts";
import { closest } from "./_suggest.ts";

export interface MainIo {
  /** Environment lookup. */
  env: (name: string) => string | undefined;
  /** Writes to standard output (no newline added). */
  stdout: (text: string) => void;
  /** Writes to standard error (no newline added). */
  stderr: (text: string) => void;
  /** Whether standard output / error are terminals. */
  terminal: { stdout: boolean; stderr: boolean };
  /**
   * Subscribes to SIGINT/SIGTERM, one delivered twice told once ({@linkcode collapseRepeats});
   * returns an unsubscribe function.
   */
  onSignal: (handler: (signal: string) => void) => () => void;
  /** Ends the process at once (a signal the run could not honour within the grace time). */
  exit?: (code: number) => void;
  /**
   * The text of the working folder's `.env`, or undefined when there is none: its names are
   * checked for a misspelled setting. Absent (tests): not checked.
   */
  dotEnv?: () => Promise<string | undefined>;
}

/**
 * Milliseconds a run gets after SIGTERM/SIGINT to roll back and report before the process ends
 * regardless. On PostgreSQL the statement running is cancelled at once and this takes well under a
 * second; the grace is for what cannot be interrupted (the embedded database's first boot or
 * merge, a server that does not take the cancel). Every write is transactional, so ending there is
 * as safe as the crash it is.
 */
export const SIGNAL_GRACE_MS = 5000;

const encoder = new TextEncoder();

/**
 * Within this many milliseconds of a stop signal, another is the same one delivered twice, not
 * a second request: a terminal's Ctrl-C reaches the whole process group and `deno task` forwards
 * it to the worker again (1 ms apart); a `kill` of the group or systemd's stop alike. A person
 * pressing Ctrl-C again takes longer.
 */
export const SIGNAL_REPEAT_MS = 250;

/**
 * `handler`, told a signal once when it comes again within `windowMs` of the last one it was
 * told ({@linkcode SIGNAL_REPEAT_MS}).
 */
export function collapseRepeats(
  handler: (signal: string) => void,
  windowMs = SIGNAL_REPEAT_MS,
  now: () => number = () => performance.now(),
): (signal: string) => void {
  let last = -Infinity;
  return (signal) => {
    const at = now();
    if (at - last < windowMs) return;
    last = at;
    handler(signal);
  };
}

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}

export const defaultIo: MainIo = {
  env: (name) => Deno.env.get(name),
  dotEnv: () => Deno.readTextFile(".env").catch(() => undefined),
  stdout: (text) => writeAll(Deno.stdout, text),
  stderr: (text) => writeAll(Deno.stderr, text),
  terminal: { stdout: Deno.stdout.isTerminal(), stderr: Deno.stderr.isTerminal() },
  exit: (code) => Deno.exit(code),
  onSignal(handler) {
    const signals = ["SIGINT", "SIGTERM"] as const;
    const once = collapseRepeats(handler);
    const listeners = signals.map((signal) => {
      const listener = () => once(signal);
      Deno.addSignalListener(signal, listener);
      return [signal, listener] as const;
    });
    return () => {
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    };
  },
};

/**
 * A schema refusal's message (`Cannot run: the database has 1 pending migration(s) …`, worded
 * for any command) naming the command that met it: `Cannot run status: …`.
 */
export function namingCommand(message: string, command: string | undefined): string {
  return command === undefined
    ? message
    : message.replace(/^Cannot run:/, `Cannot run ${command}:`);
}

/** A mistake in the command line: exit 2. */
export class UsageError extends Error {}

/** A source that is not there or may not be used (folder, file, bucket): exit 2, no usage text. */
export class SourceError extends Error {}

/** What a command runs with. */
export interface Context {
  config: Config;
  io: MainIo;
  redact: (text: string) => string;
  out: (text: string) => void;
}

/** Parsed flags. */
export type Flags = Record<string, string | boolean | undefined>;

/**
 * Parses flags strictly. An unknown flag is a usage error that suggests the closest known one
 * ("did you mean"); a missing value names the flag. A negative number after a flag that takes a
 * value is its value (`--max-age -1` reads as -1, for the flag's reader to judge).
 */
export function parse(args: string[], options: ParseArgsConfig["options"]): Flags {
  return parseWithPositionals(args, options, false).flags;
}

/** As {@linkcode parse}, taking words that are not flags too, wherever they stand. */
export function parseWithPositionals(
  args: string[],
  options: ParseArgsConfig["options"],
  allowPositionals = true,
): { flags: Flags; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args, options),
      options,
      strict: true,
      allowPositionals,
      tokens: true,
    });
  } catch (error) {
    const known = Object.keys(options ?? {});
    throw new UsageError(flagError(error as Error & { code?: string }, known));
  }
  // A flag given twice (`--dataset inc --dataset crq`) would silently keep the last value.
  const seen = new Map<string, string | undefined>();
  const tokens = parsed.tokens as { kind: string; name?: string; value?: string }[];
  for (const token of tokens) {
    if (token.kind !== "option" || token.name === undefined) continue;
    if (seen.has(token.name)) {
      const values = [seen.get(token.name), token.value].filter((v) => v !== undefined);
      throw new UsageError(
        `The flag "--${token.name}" is given twice${
          values.length > 0 ? ` (${values.map((v) => `"${v}"`).join(", then ")})` : ""
        }: give it once`,
      );
    }
    seen.set(token.name, token.value);
  }
  return { flags: parsed.values as Flags, positionals: parsed.positionals };
}

/**
 * Joins a negative number to the flag before it (`--max-age`, `-1` → `--max-age=-1`) when the flag
 * takes a value: parseArgs would read "-1" as a flag, and the value's reader says what is wrong.
 */
function joinNegativeValues(args: string[], options: ParseArgsConfig["options"]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return [...joined, ...args.slice(i)];
    const next = args[i + 1];
    const takesValue = arg.startsWith("--") && options?.[arg.slice(2)]?.type === "string";
    if (takesValue && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

function flagError(error: Error & { code?: string }, known: string[]): string {
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? "";
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const flag = quoted.split("=")[0]!;
      const long = known.map((name) => `--${name}`);
      // A short flag (`-p`) is many edits from any long one: suggest the one it abbreviates.
      const short = /^-[a-z]$/i.test(flag)
        ? long.filter((name) => name[2] === flag[1]!.toLowerCase())
        : [];
      const suggestion = short.length === 1 ? short[0] : closest(flag, long);
      return `Unknown flag "${flag}"${suggestion ? `: did you mean "${suggestion}"?` : ""}`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = quoted.split(" ")[0]!;
      // Ambiguous: the next word starts with "-", a flag (a negative number is joined above).
      return /argument missing|argument is ambiguous/.test(error.message)
        ? `The flag "${flag}" needs a value`
        : `The flag "${flag}" takes no value`;
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `Unexpected argument "${quoted}": this command takes flags only`;
    default:
      return error.message;
  }
}

/** Reads `--dataset`: one dataset, or every one for `all` (when allowed). */
export function datasetsFlag(value: unknown, allowAll = true): Dataset[] {
  const name = String(value);
  if (allowAll && name === "all") return Object.values(DATASETS);
  const dataset = DATASETS[name];
  if (dataset !== undefined) return [dataset];
  const valid = [...Object.keys(DATASETS), ...(allowAll ? ["all"] : [])];
  throw new UsageError(
    `Cannot read --dataset "${name}": expected ${valid.map((n) => `"${n}"`).join(", ")}`,
  );
}

/**
 * Reads a number, 0 or more (more than 0 when `positive`: a limit of 0 would always be
 * exceeded), from a flag; `unit` names what it counts in the message. Decimal notation only
 * (`2`, `0.5`, `.5`: {@linkcode parseDecimal}, as number settings are read).
 */
export function amount(
  value: string | boolean | undefined,
  flag: string,
  unit: "seconds" | "hours" | "calls",
  positive = false,
): number {
  if (value === undefined) return 0;
  const n = typeof value === "string" ? parseDecimal(value) : undefined;
  if (n === undefined || (positive && n === 0)) {
    throw new UsageError(
      `Cannot read ${flag} "${value}": expected a number of ${unit}, ${
        positive ? "more than 0" : "0 or more"
      }`,
    );
  }
  return n;
}
