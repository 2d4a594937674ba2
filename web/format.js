// Formatting for people: hours, countdowns, EAT times, percentages, distances.

/**
 * `n` with `digits` decimals, a half rounded up as the server's figures are (PostgreSQL's
 * `round()`, and `report` in a terminal): 47.05 is 47.1, where toFixed gives 47.0. The page
 * cannot import core/: keep in step with core/decimal_text.ts.
 */
function decimal(n, digits) {
  if (!(Math.abs(n) < 1e15)) return n.toFixed(digits);
  const shifted = Number(`${Math.abs(n)}e${digits}`);
  const rounded = Number.isFinite(shifted) ? Number(`${Math.round(shifted)}e-${digits}`) : 0;
  return (n < 0 && rounded !== 0 ? -rounded : rounded).toFixed(digits);
}

/** `12.5 h`, or an en dash for nothing. */
export function hours(value) {
  if (value === null || value === undefined || value === "") return "–";
  const n = Number(value);
  return `${n >= 100 ? Math.round(n) : decimal(n, 1)} h`;
}

/**
 * An open ticket's age, `47.9 h`: rounded down, as the SLA state is (`48.0 h` only once it is
 * breached); from 100 h on in days and hours, `170 d 10 h`, as the countdown beside it says how
 * long ago a breach was (before: `4090 h` next to `breached 168 d 10 h ago`). An en dash for
 * nothing. The API gives hours with two decimals at most.
 */
export function age(value) {
  if (value === null || value === undefined || value === "") return "–";
  const n = Math.floor(Number(value) * 10 + 1e-6) / 10;
  return n >= 100 ? duration(Math.floor(Number(value) * 60 + 1e-6)) : `${n.toFixed(1)} h`;
}

/** `2 h 05 min` from minutes. */
export function duration(minutes) {
  const m = Math.abs(Math.round(minutes));
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const rest = String(m % 60).padStart(2, "0");
  if (d > 0) return `${d} d ${h} h`;
  return h > 0 ? `${h} h ${rest} min` : `${m % 60} min`;
}

/**
 * `breach in 7 h 12 min` / `breached 3 h 02 min ago` from minutes left, as the API's
 * minutes_to_breach counts them: whole minutes rounded down, so 0 is under a minute left (not
 * breached yet), and negative from the breach instant on (-1 at the instant itself). A
 * fractional value (the card's, ticking) reads the same way.
 */
export function countdown(minutesLeft) {
  if (minutesLeft === null || minutesLeft === undefined) return "–";
  const whole = Math.floor(minutesLeft);
  if (whole >= 0) return `breach in ${whole === 0 ? "under 1 min" : duration(whole)}`;
  const past = -whole - 1;
  return `breached ${past === 0 ? "under 1 min" : duration(past)} ago`;
}

/**
 * `0.3 h ago` from an age in hours, `12 days ago` from two days on; `just now` for a negative one
 * (a change file named ahead of the server's clock, which ingest allows by up to 60 min).
 */
export function ago(ageHours) {
  if (ageHours < 0) return "just now";
  return `${span(ageHours)} ago`;
}

/**
 * `3.4 h old`, `170 days old` from two days on: the stale banner counts as the header does
 * (before: `4091.8 h old` under a header saying `170 days ago`, a map tester's).
 */
export function old(ageHours) {
  return `${span(Math.max(0, ageHours))} old`;
}

function span(hours) {
  return hours < 48 ? `${hours.toFixed(1)} h` : `${Math.floor(hours / 24)} days`;
}

/** `15 Jun 17:00 EAT` from an ISO time with an offset. */
export function eatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const eat = new Date(date.getTime() + 3 * 3_600_000);
  const month = eat.toLocaleString("en-GB", { month: "short", timeZone: "UTC" });
  const hh = String(eat.getUTCHours()).padStart(2, "0");
  const mm = String(eat.getUTCMinutes()).padStart(2, "0");
  return `${eat.getUTCDate()} ${month} ${hh}:${mm} EAT`;
}

/**
 * `part` of `whole` (two counts) as "78.9 %", rounded once from the exact fraction (halves up):
 * the API's 4-decimal rate rounded again would show 15 of 19 as 79.0 %. "–" when `whole` is 0.
 */
export function share(part, whole) {
  if (!(whole > 0) || !(part >= 0)) return "–";
  const units = Math.floor((part * 1000) / whole);
  const rounded = 2 * (part * 1000 - units * whole) >= whole ? units + 1 : units;
  return `${(rounded / 10).toFixed(1)} %`;
}

/** `850 m` / `3.4 km`. */
export function metres(m) {
  if (m === null || m === undefined) return "–";
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

/** Characters of a feed's text shown in one place; the rest is said as a count. */
export const SHOWN_CHARACTERS = 300;

/**
 * At most {@link SHOWN_CHARACTERS} characters of a feed's text (a status, team, owner, cluster
 * or place), the rest said as a count: the feed takes fields of up to 4 Mi characters, and a
 * card with five of 100,000 characters each kept the tab's layout busy for four minutes.
 */
export function clip(value, max = SHOWN_CHARACTERS) {
  const text = String(value ?? "");
  if (text.length <= max) return text;
  // Not between the two halves of a character outside the BMP.
  const end = /[\ud800-\udbff]/.test(text[max - 1]) ? max - 1 : max;
  return `${text.slice(0, end)}… (${(text.length - end).toLocaleString("en")} more characters)`;
}

/** A feed's text for HTML: {@link clip}ped, then escaped. */
export function shown(value) {
  return esc(clip(value));
}

/**
 * A name in a table cell: one line, cut with an ellipsis past the cell's width (CSS `.cut`), the
 * whole of it ({@link clip}ped) in its title. Before, one 150-character name made the tickets
 * table 4,086 px wide, the SLA columns off screen for every row (a tester's).
 */
export function cellText(value) {
  const text = clip(value);
  return `<span class="cut" title="${esc(text)}">${esc(text)}</span>`;
}

/** Escapes text for HTML. */
export function esc(value) {
  return visible(String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`));
}

/**
 * Text with its direction controls (U+202E …) written out (`\u202e`): as given, they turned the
 * text after them around. For text set as text (an option's label); `esc` does it for HTML.
 */
export function visible(text) {
  return String(text ?? "").replace(
    /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A filter option's label: {@linkcode visible}, with a run of white space kept as wide as it is. An
 * option's label collapses white space, so "Nyali  Beach" (two spaces) read as "Nyali Beach", a
 * second entry that looked like the first (a tester's); the value sent stays the name itself.
 */
export function optionLabel(text) {
  return visible(text).replace(
    /[ \t\n\r\f]{2,}|[\t\n\r\f]/g,
    (run) => ` ${"\u00a0".repeat(run.length - 1)}`,
  );
}

/** What a geometry source means for whoever drives there. */
export const GEO_SOURCES = {
  feed: "feed coordinates",
  location: "location point from the gazetteer (geocoded or curated)",
  cluster: "cluster centroid (approximate: not an address)",
  none: "not placed",
};
