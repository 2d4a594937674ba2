/**
 * A reporting window as a caller gives it (`window`, `from`, `to`), checked before any query, so
 * the API and the command line refuse the same things with the parameter named. The days
 * themselves are computed in SQL (`tickets.eat_window`), which checks the same rules again.
 *
 * @module
 */

/** Reporting windows (see `tickets.eat_window`). */
export const WINDOWS = ["today", "yesterday", "7d", "30d", "mtd", "custom"] as const;

/** The longest custom window, in days: a dashboard builds a row per day. */
export const MAX_WINDOW_DAYS = 366;

/** A window that cannot be used; `parameter` is the one to fix. */
export class WindowError extends Error {
  /** Creates the error for a parameter. */
  constructor(readonly parameter: "window" | "from" | "to", message: string) {
    super(message);
    this.name = "WindowError";
  }
}

/** A checked window: a custom one carries its days. */
export interface ReportWindow {
  window: string;
  from?: string;
  to?: string;
}

/**
 * Checks a window: `from`/`to` alone mean `custom`; `custom` needs both; from/to with another
 * window, a day that is no date, from after to, and a window over {@linkcode MAX_WINDOW_DAYS}
 * days are refused. `name` spells a parameter in messages (`--from` on the command line).
 *
 * @example Usage
 * ```ts
 * import { reportWindow } from "./report_window.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(reportWindow({}), { window: "7d" });
 * assert.deepEqual(reportWindow({ from: "2026-06-01", to: "2026-06-15" }), {
 *   window: "custom",
 *   from: "2026-06-01",
 *   to: "2026-06-15",
 * });
 * assert.throws(() => reportWindow({ window: "week" }), /Cannot read window "week"/);
 * ```
 */
export function reportWindow(
  input: { window?: string; from?: string; to?: string },
  name: (parameter: string) => string = (parameter) => parameter,
): ReportWindow {
  const { from, to } = input;
  checkDays(from, to, name);
  const window = windowName(input.window, from, to, name);
  if (window !== "custom") return namedWindow(window, from, to, name);
  return customWindow(from, to, name, input.window?.trim() ? "given" : "implied");
}

/** Spells a parameter in messages (`--from` on the command line). */
type Name = (parameter: string) => string;

/** Refuses a `from` or `to` that is no calendar day. */
function checkDays(from: string | undefined, to: string | undefined, name: Name): void {
  for (const [parameter, day] of [["from", from], ["to", to]] as const) {
    if (day !== undefined && !isCalendarDay(day)) {
      throw new WindowError(
        parameter,
        `Cannot read ${name(parameter)} "${day}": expected a date such as 2026-06-15`,
      );
    }
  }
}

/** The window asked for, one of {@linkcode WINDOWS}: `from`/`to` alone mean `custom`. */
function windowName(
  given: string | undefined,
  from: string | undefined,
  to: string | undefined,
  name: Name,
): string {
  // As the SQL reads it: case and surrounding spaces do not matter.
  const window = given?.trim().toLowerCase() ||
    (from !== undefined || to !== undefined ? "custom" : "7d");
  if (!(WINDOWS as readonly string[]).includes(window)) {
    throw new WindowError(
      "window",
      `Cannot read ${name("window")} "${window}": expected ${WINDOWS.join(", ")}`,
    );
  }
  return window;
}

/** A named window (not `custom`): `from` and `to` cannot go with it. */
function namedWindow(
  window: string,
  from: string | undefined,
  to: string | undefined,
  name: Name,
): ReportWindow {
  const day = from !== undefined ? "from" : to !== undefined ? "to" : undefined;
  if (day === undefined) return { window };
  throw new WindowError(
    day,
    `Cannot use ${name(day)} with ${name("window")} "${window}": ${name("from")} and ` +
      `${name("to")} make a custom window (leave out ${name("window")}, or give custom)`,
  );
}

/** A custom window: both days, `from` not after `to`, at most {@linkcode MAX_WINDOW_DAYS} days. */
function customWindow(
  from: string | undefined,
  to: string | undefined,
  name: Name,
  window: "given" | "implied",
): ReportWindow {
  if (from === undefined || to === undefined) {
    const day = from === undefined ? "from" : "to";
    // Implied by the other day alone: said as typed (before: 'Cannot use --window "custom"
    // without --to' to a command line that named no window, a tester's).
    const what = window === "given"
      ? `${name("window")} "custom"`
      : name(day === "from" ? "to" : "from");
    throw new WindowError(
      day,
      `Cannot use ${what} without ${name(day)}: give both ${name("from")} and ` +
        `${name("to")} (YYYY-MM-DD)`,
    );
  }
  if (from > to) {
    throw new WindowError(
      "from",
      `Cannot read ${name("from")} "${from}": it is after ${name("to")} "${to}"`,
    );
  }
  const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
  if (days > MAX_WINDOW_DAYS) {
    throw new WindowError(
      "from",
      `Cannot read ${name("from")} "${from}" to "${to}": a window spans at most ` +
        `${MAX_WINDOW_DAYS} days (this one ${days})`,
    );
  }
  return { window: "custom", from, to };
}

/** A calendar day PostgreSQL can hold as a date: `YYYY-MM-DD`, year 1 or later. */
export function isCalendarDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || value.startsWith("0000")) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}
