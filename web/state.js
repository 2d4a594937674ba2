// The page's state lives in the URL: a link reproduces the view (filters, view, selection,
// viewport, dispatch point).

const DEFAULTS = {
  crq: false,
  cluster: "",
  status: "",
  team: "",
  sla: "",
  window: "7d",
  from: "",
  to: "",
  view: "map",
  ticket: "",
  near: "",
  rank: "urgency",
  at: "",
};

const WINDOWS = ["today", "yesterday", "7d", "30d", "mtd", "custom"];
const SLA = ["", "breached", "at_risk", "ok", "unknown"];

/** The filter controls' fields: Reset puts each back to its default. */
const FILTER_KEYS = ["cluster", "status", "team", "sla", "window", "from", "to"];

/** Puts every filter of `state` back to its default (custom dates too); the view stays. */
export function resetFilters(state) {
  for (const key of FILTER_KEYS) state[key] = DEFAULTS[key];
}

/** The state a URL describes (unknown values fall back to the defaults). */
export function readState(search = location.search) {
  const params = new URLSearchParams(search);
  const state = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS)) {
    const value = params.get(key);
    if (value === null) continue;
    state[key] = key === "crq" ? value === "1" : value.trim();
  }
  // As the API reads them: `?sla=BREACHED` is breached (before: dropped, widening the view).
  for (const key of ["window", "sla", "view", "rank"]) state[key] = state[key].toLowerCase();
  if (!WINDOWS.includes(state.window)) state.window = DEFAULTS.window;
  if (!SLA.includes(state.sla)) state.sla = "";
  if (state.view !== "table") state.view = "map";
  if (state.rank !== "distance") state.rank = "urgency";
  return state;
}

/** The URL of a state (defaults left out, so links stay short). */
export function stateUrl(state) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (value === DEFAULTS[key] || value === "" || value === false) continue;
    params.set(key, value === true ? "1" : String(value));
  }
  const text = params.toString().replaceAll("%2C", ",");
  return `${location.pathname}${text ? `?${text}` : ""}`;
}

/** Writes the state to the address bar: a new history entry, or in place (`replace`). */
export function writeState(state, { replace = false } = {}) {
  const url = stateUrl(state);
  if (url === `${location.pathname}${location.search}`) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}

/**
 * Whether a query string (`location.search`) and a page address (`stateUrl`) name the same
 * history entry, the map's view (`at`) aside.
 */
export function sameEntry(search, url) {
  const a = new URLSearchParams(search);
  const b = new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?")) : "");
  a.delete("at");
  b.delete("at");
  a.sort();
  b.sort();
  return a.toString() === b.toString();
}

/** The filters as the API's query parameters. */
export function ticketParams(state) {
  return {
    dataset: state.crq ? "all" : "inc",
    cluster: state.cluster,
    status: state.status,
    team: state.team,
    sla_state: state.sla,
  };
}

/** The window as the API's query parameters. */
export function windowParams(state) {
  return state.window === "custom"
    ? { window: "custom", from: state.from, to: state.to }
    : { window: state.window };
}

/** What a custom window needs, as the API checks it (a day it cannot read: its own message). */
export const CUSTOM_WINDOW_HINT = "Pick both dates (from ≤ to, at most 366 days)";

/**
 * Why the window cannot be asked for yet: a custom one without both dates, with from after to,
 * or over 366 days gets {@link CUSTOM_WINDOW_HINT}; null otherwise (the API checks the rest).
 */
export function windowProblem(state) {
  if (state.window !== "custom") return null;
  if (!state.from || !state.to) return CUSTOM_WINDOW_HINT;
  const days = (Date.parse(`${state.to}T00:00:00Z`) - Date.parse(`${state.from}T00:00:00Z`)) /
    86_400_000;
  return days < 0 || days >= 366 ? CUSTOM_WINDOW_HINT : null;
}

/** True when any ticket filter is set. */
export function hasTicketFilters(state) {
  return ticketFilterCount(state) > 0;
}

/** How many of the filters that choose the tickets (cluster, status, team, SLA state) are set. */
export function ticketFilterCount(state) {
  return [state.cluster, state.status, state.team, state.sla].filter(Boolean).length;
}
