/**
 * What every command gets: configuration, output, the redactor; flag parsing and usage errors. Private to cli/.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Config } from "../app/config.ts";

export interface MainIo {
  /** Environment lookup. */
  env: (name: string) => string | undefined;
  /** Writes to standard output (no newline added). */
  stdout: (text: string) => void;
  /** Writes to standard error (no newline added). */
  stderr: (text: string) => void;
  /** Whether standard output / error are terminals. */
  terminal: { stdout: boolean; stderr: boolean };
  /** Subscribes to SIGINT/SIGTERM; returns an unsubscribe function. */
  onSignal: (handler: (signal: string) => void) => () => void;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}

export const defaultIo: MainIo = {
  env: (name) => Deno.env.get(name),
  stdout: (text) => writeAll(Deno.stdout, text),
  stderr: (text) => writeAll(Deno.stderr, text),
  terminal: { stdout: Deno.stdout.isTerminal(), stderr: Deno.stderr.isTerminal() },
  onSignal(handler) {
    const signals = ["SIGINT", "SIGTERM"] as const;
    const listeners = signals.map((signal) => {
      const listener = () => handler(signal);
      Deno.addSignalListener(signal, listener);
      return [signal, listener] as const;
    });
    return () => {
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    };
  },
};

/** A mistake in the command line: exit 2. */
export class UsageError extends Error {}

/** What a command runs with. */
export interface Context {
  config: Config;
  io: MainIo;
  redact: (text: string) => string;
  out: (text: string) => void;
}

/** Parsed flags. */
export type Flags = Record<string, string | boolean | undefined>;

/** Parses flags strictly; an unknown flag is a usage error. */
export function parse(args: string[], options: ParseArgsConfig["options"]): Flags {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Reads a non-negative number of seconds (or hours) from a flag. */
export function seconds(value: string | boolean | undefined, flag: string): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(`Cannot read ${flag} "${value}": expected a number of seconds or hours`);
  }
  return n;
}
