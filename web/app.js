// The live ticket map page: wires the state in the URL to the API and the views, and refreshes
// every 60 s with If-None-Match (a 304 changes nothing on screen: not the viewport, not the
// selection).

import {
  askForToken,
  authHeaders,
  authorizedFetch,
  getAllTickets,
  getJson,
  query,
  setTokenAsker,
  tokenEntered,
} from "./api.js";
import { createCharts } from "./charts.js";
import { clusterAreas, mostSpelled, nameKey } from "./areas.js";
import {
  closeSheet,
  countFilters,
  foldFilters,
  measureAbove,
  openSheet,
  sheetFits,
} from "./layout.js";
import { createMap } from "./map.js";
import { stateOf } from "./markers.js";
import {
  renderCrqFreshness,
  renderError,
  renderFreshness,
  renderGroup,
  renderKpis,
  renderNearest,
  renderTicket,
  renderTicketGone,
  tickCountdown,
} from "./panels.js";
import {
  hasTicketFilters,
  readState,
  resetFilters,
  sameEntry,
  stateUrl,
  ticketFilterCount,
  ticketParams,
  windowParams,
  windowProblem,
  writeState,
} from "./state.js";
import { optionLabel } from "./format.js";
import { createTable } from "./table.js";
import { renderTeams } from "./teams.js";

const REFRESH_MS = 60_000;
// The API's default page: a larger one waits for one of the server's two large-read places
// (serve/_large_reads.ts), shared by every open page; more tickets come by following `next`.
const PAGE_LIMIT = 5000;
const $ = (id) => document.getElementById(id);

let state = readState();
let config;
let mapView;
let table;
let charts;
let tickets = [];
/** The tickets URL whose answer `tickets` holds. */
let drawnUrl = "";
/** The dispatch form's (or a link's) last mistake, shown on the error line until fixed. */
let nearestProblem = null;
let byId = new Map();
const extra = new Map();
let fetchedAt = Date.now();
let generation = 0;
let fitted = false;
/**
 * The cluster filter changed: the map fits its tickets once they load (before, the view stayed
 * where it was, often far from the chosen cluster; a map tester's). "all" fits every ticket.
 */
let fitOnLoad = false;
/** The header shows the data's freshness (the dashboard loaded once). */
let dataShown = false;
/** The filters whose tickets and figures are on screen (selectionKey), once both loaded. */
let shownKey = null;
/** The filters that choose the tickets and the figures, as one text. */
const selectionKey = () => JSON.stringify([ticketParams(state), windowParams(state)]);
/**
 * The dashboard's freshness and when it came (performance.now(): the browser's wall clock may
 * be off, or set while the page is open); the header counts its age on from there.
 */
let freshness = null;
/** CRQ's /api/health entry (`{}`: none) while CRQ is shown; null: hidden; undefined: not read. */
let crqHealth;
/** The last refresh could not reach the data (no answer, 503): the server may come back changed. */
let outage = false;
let booted = false;
/** The names listed in each filter, by their key ({@link nameKey}): each as most tickets spell it. */
const seen = { cluster: new Map(), status: new Map(), team: new Map() };

/** The team filter's value for the tickets without a team (the API's word for them). */
const NO_TEAM = "(none)";

function ticketsUrl(params) {
  return `api/tickets${query({ ...params, open_only: "true", limit: PAGE_LIMIT })}`;
}

function featureOf(id) {
  return byId.get(id) ?? extra.get(id) ?? null;
}

/** The ids of the tickets stacked at one point whose list the card shows (null: none shown). */
let shownGroup = null;

/** Lists a stack of tickets in the card (kept across refreshes until a ticket is chosen). */
function showGroup(list) {
  shownGroup = list.map((p) => p.ticket_id);
  renderGroup(list, pick);
}

/** A stack tapped on the map: its list, in the sheet on a phone. */
function pickGroup(list) {
  showGroup(list);
  if (sheetFits(state)) openSheet($("ticket"));
}

/**
 * After a refresh: the stack's list again, of its tickets still shown (before, every refresh
 * blanked it, a minute after it was opened); the empty card when none is left.
 */
function showGroupAgain() {
  const list = shownGroup.map((id) => byId.get(id)?.properties).filter(Boolean);
  if (list.length > 0) showGroup(list);
  else select(null, { push: false });
}

/**
 * Shows ticket `id` (null: none) on the card, map and table. A person's choice (`push`) is a
 * history entry of its own, so Back returns to the ticket before (before: it replaced the entry).
 */
function select(id, { push = true } = {}) {
  shownGroup = null;
  state.ticket = id ?? "";
  if (push) writeState(state);
  const feature = featureOf(state.ticket);
  if (feature || !state.ticket) renderTicket(feature, fetchedAt);
  else showGone(state.ticket);
  mapView.select(state.ticket);
  table.select(state.ticket);
}

/**
 * The selected ticket is not among the tickets shown (it closed, the filters hide it, or it left
 * the data): its card says which, from /api/tickets/{id}, instead of going blank.
 */
async function showGone(id) {
  let feature = null;
  let known = true;
  try {
    ({ data: feature } = await getJson(`api/tickets/${encodeURIComponent(id)}`));
  } catch (error) {
    known = error.status === 404;
  }
  if (state.ticket !== id) return;
  const now = featureOf(id); // the nearest list may have brought it meanwhile
  if (now) renderTicket(now, fetchedAt);
  else renderTicketGone(id, feature, { known });
}

function pick(id) {
  select(id);
  if (sheetFits(state)) openSheet($("ticket"));
  else if (matchMedia("(max-width: 1023px)").matches) {
    $("ticket").scrollIntoView({ block: "nearest" });
  }
}

async function loadNearest() {
  // An empty part is no coordinate (before: `near=,36.82` searched at latitude 0).
  const [lat, lon] = state.near.split(",").map((part) => part.trim() === "" ? NaN : Number(part));
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) {
    mapView.setVehicle(null);
    renderNearest(null, pick);
    // A link's point that is no point (`near=abc`) is said, as one off the globe is (before:
    // dropped without a word).
    if (state.near.trim() !== "") showNearestProblem(state.near.trim());
    return;
  }
  if (!onGlobe(lat, lon)) {
    // A link's point off the globe: said as the form says it (before: the API's URL and words).
    showNearestProblem(lat, lon);
    return;
  }
  mapView.setVehicle(lat, lon);
  $("n-lat").value = String(lat);
  $("n-lon").value = String(lon);
  const url = `api/nearest${
    query({ lat, lon, k: 10, rank: state.rank, dataset: state.crq ? "all" : "inc" })
  }`;
  let data;
  try {
    ({ data } = await getJson(url));
  } catch (error) {
    // The list was the previous point's: said, not left beside the new crosshair (before: the
    // old distances under the new point while the server was down, a map tester's).
    $("nearest-list").innerHTML =
      `<li class="note">The nearest tickets to this point cannot be loaded now.</li>`;
    throw error;
  }
  // Tickets the nearest list shows but the current filters hide: still selectable.
  for (const id of extra.keys()) if (id !== state.ticket) extra.delete(id);
  for (const f of data.features) {
    if (!byId.has(f.properties.ticket_id)) extra.set(f.properties.ticket_id, f);
  }
  renderNearest(data, pick);
}

/** Shows an error on the page and in the console (where tools and tests see it). */
function fail(error) {
  console.error(error);
  showFailures([error]);
}

const lowerFirst = (text) => text.charAt(0).toLowerCase() + text.slice(1);

/**
 * Says what failed in words for a person (the API's 401 speaks to API clients): the access
 * token, data that cannot be loaded now (503, no answer), or the other errors as they are.
 */
function showFailures(errors) {
  const needToken = errors.some((e) => e.status === 401);
  $("token-needed").hidden = !needToken;
  const why = tokenEntered()
    ? "The access token entered is not accepted (the server's may have changed)"
    : "This page needs the server's access token to show the data";
  $("token-why").textContent = needToken ? why : "";
  const unavailable = new Set();
  const other = new Set();
  for (const e of errors) {
    if (e.status === 503 || e.status === 0) unavailable.add(lowerFirst(e.detail));
    else if (e.status !== 401) other.add(e.message);
  }
  // The dispatch form's (or link's) mistake stays said until the point is fixed.
  const lines = [...(nearestProblem === null ? [] : [nearestProblem]), ...other];
  if (unavailable.size > 0) {
    lines.unshift(
      `The data cannot be loaded now: ${[...unavailable].join("; ")}. ` +
        `The page tries again every minute`,
    );
  }
  // A filter changed while the data cannot be loaded: what is shown is still the filters' before
  // (before: "Westlands" chosen, the cards still said all clusters' 220 open, unmarked).
  const previous = errors.length > 0 && shownKey !== null && shownKey !== selectionKey();
  document.body.classList.toggle("previous-filters", previous);
  if (previous) {
    lines.push("The figures, the map and the list still show the filters before this change");
  }
  renderError(lines.length ? lines.join(" · ") : null);
  if (errors.length > 0 && !dataShown) {
    $("as-of").textContent = needToken ? "access token needed" : "data cannot be loaded now";
  }
}

let wake = null;
/** The dispatch mistake's line goes (before, it stayed until the next refresh, or after it). */
function forgetNearestProblem() {
  if (nearestProblem === null) return;
  nearestProblem = null;
  renderError(null);
}

/** The dispatch mistake's line: for a point off the globe, or (`lon` undefined) text as given. */
function showNearestProblem(lat, lon) {
  const point = lon === undefined ? String(lat).slice(0, 40) : `${lat}, ${lon}`;
  nearestProblem = `Cannot find tickets near "${point}": type a latitude (-90..90) and ` +
    `a longitude (-180..180)`;
  renderError(nearestProblem);
}

/** Waits for the next try of the first load: a refresh period, or a token entered sooner. */
function nextTry() {
  return new Promise((resolve) => {
    const timer = setTimeout(() => wake(), REFRESH_MS);
    wake = () => {
      clearTimeout(timer);
      wake = null;
      resolve();
    };
  });
}

/** The "Enter the access token" button: asks, then loads again at once. */
async function enterToken() {
  if (!await askForToken()) return;
  if (wake) wake();
  else if (booted) refresh();
}

/**
 * The page's own form for the access token (before: the browser's plain prompt(), and the token
 * kept per tab only, so a link opened in a new tab asked again; a map tester's): a password
 * field, and "Remember on this device" (localStorage) for a dispatcher's own computer.
 */
function askWithForm() {
  const dialog = $("token-dialog");
  const input = $("token-input");
  input.value = "";
  $("token-remember").checked = false;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(
        dialog.returnValue === "ok"
          ? { token: input.value, remember: $("token-remember").checked }
          : null,
      );
      input.value = "";
    }, { once: true });
  });
}

/** A point on the globe: latitude -90..90, longitude -180..180. */
const onGlobe = (lat, lon) => Math.abs(lat) <= 90 && Math.abs(lon) <= 180;

/** Asks for the tickets nearest a point (a map click, the form); a mistake said before goes. */
function dispatchAt(lat, lon) {
  forgetNearestProblem();
  state.near = `${lat.toFixed(5)},${lon.toFixed(5)}`;
  writeState(state, { replace: true });
  loadNearest().then(showNearestOnPhone).catch(fail);
}

/**
 * On a phone the list comes up in the sheet over the map's lower part (the tapped point stays in
 * sight); on a tablet, where it is below the map, the page scrolls to it (before: out of sight,
 * unsaid).
 */
function showNearestOnPhone() {
  if (sheetFits(state)) openSheet($("nearest"));
  else if (matchMedia("(max-width: 1023px)").matches) {
    $("nearest").scrollIntoView({ block: "start" });
  }
}

/**
 * A value the API can filter on: at most 200 characters, no control character (a cluster of
 * 100,000 characters, listed, answered 400 and put all of it in the address bar).
 */
// deno-lint-ignore no-control-regex
const filterable = (v) => v.length <= 200 && !/[\u0000-\u001f\u007f]/.test(v);

/**
 * Lists the features' names, one entry per name as the API matches it, spelled as most of them
 * spell it (before: "NBI North FLM" and "nbi north flm" were two entries that each chose both).
 */
function noteNames(features) {
  const counts = { cluster: new Map(), status: new Map(), team: new Map() };
  const count = (key, name) => counts[key].set(name, (counts[key].get(name) ?? 0) + 1);
  for (const f of features) {
    const p = f.properties;
    if (p.cluster && filterable(p.cluster)) count("cluster", p.cluster);
    if (p.normalized_status && filterable(p.normalized_status)) {
      count("status", p.normalized_status);
    }
    // The tickets with no team (the API's `team=(none)`): often the ones to find first.
    if (!p.assigned_team) count("team", NO_TEAM);
    else if (filterable(p.assigned_team)) count("team", p.assigned_team);
  }
  for (const key of ["cluster", "status", "team"]) {
    const spellings = new Map(); // name key → (spelling → count)
    for (const [name, n] of counts[key]) {
      const k = nameKey(name);
      spellings.set(k, (spellings.get(k) ?? new Map()).set(name, n));
    }
    for (const [k, names] of spellings) seen[key].set(k, mostSpelled(names));
  }
}

function fillOptions(features) {
  noteNames(features);
  for (const key of ["cluster", "status", "team"]) {
    // The API matches these in any case and trimmed: a link's `team=nbi north flm` is the
    // listed team (before: a second, lower-case entry in the list).
    const listed = seen[key].get(nameKey(state[key]));
    if (state[key] && listed !== undefined) state[key] = listed;
    const select = $(`f-${key}`);
    const values = [...new Set([...seen[key].values(), state[key]].filter(Boolean))]
      .sort((a, b) => a.localeCompare(b));
    const have = [...select.options].slice(1).map((o) => o.value).join("\n");
    if (have !== values.join("\n")) {
      select.length = 1;
      for (const v of values) select.add(new Option(optionLabel(v), v));
    }
    select.value = state[key];
  }
}

function showUnplaced(data) {
  const unplaced = data.features.filter((f) => !f.geometry);
  const box = $("unplaced");
  if (data.numberMatched === 0) {
    // Before: an empty map, which reads as "no data" as much as "none of these" (a tester's).
    box.hidden = false;
    box.dataset.unplaced = "{}";
    box.textContent = hasTicketFilters(state)
      ? "No open ticket matches these filters (Reset filters shows them all)."
      : "No open ticket.";
    return;
  }
  box.hidden = unplaced.length === 0 && data.numberMatched === data.numberReturned;
  const counts = {};
  for (const f of unplaced) {
    counts[stateOf(f.properties)] = (counts[stateOf(f.properties)] ?? 0) + 1;
  }
  box.dataset.unplaced = JSON.stringify(counts);
  // Before: "(no cluster or location known)", also for tickets only waiting to be geocoded.
  const one = unplaced.length === 1;
  box.textContent = `${unplaced.length} of ${data.numberMatched} ` +
    `ticket${data.numberMatched === 1 ? "" : "s"} ` +
    `${one ? "has" : "have"} no place on the map yet (no coordinates in the feed, and none ` +
    `geocoded yet for ${one ? "its" : "their"} cluster or location); the table lists ` +
    `${one ? "it" : "them"}.`;
}

async function loadTickets(gen) {
  const url = ticketsUrl(ticketParams(state));
  const main = await getAllTickets(url);
  const all = hasTicketFilters(state)
    ? await getAllTickets(ticketsUrl({ dataset: state.crq ? "all" : "inc" }))
    : main;
  if (gen !== generation) return;
  fillOptions(all.data.features);
  if (all.changed) mapView.setAreas(clusterAreas(all.data.features));
  // A 304 says this URL's answer is unchanged, not that it is the one drawn (a filter set back).
  if (!main.changed && tickets.length > 0 && url === drawnUrl) return;
  drawnUrl = url;
  tickets = main.data.features;
  fetchedAt = Date.now();
  byId = new Map(tickets.map((f) => [f.properties.ticket_id, f]));
  mapView.setTickets(tickets);
  table.setTickets(tickets);
  showUnplaced(main.data);
  const first = !fitted;
  if ((first && !state.at) || fitOnLoad) fitMap();
  fitted = true;
  fitOnLoad = false;
  if (!state.ticket && shownGroup) showGroupAgain();
  else select(state.ticket || null, { push: false });
  // A link to one ticket, on a phone: its card comes up in the sheet (before: it stayed in the
  // page below the map, out of sight; a newcomer's).
  if (first && state.ticket && sheetFits(state)) openSheet($("ticket"));
}

/**
 * Fits the map to the tickets; a link to one ticket without a view (`?ticket=…`) centres on it
 * instead (before: all of East Africa, the ticket inside a group of 167; a map tester's).
 */
function fitMap() {
  const chosen = !fitted && state.ticket ? byId.get(state.ticket) : undefined;
  if (chosen?.geometry) mapView.centreOn(chosen, TICKET_ZOOM);
  else mapView.fitTo(tickets);
}

/** The zoom a link to one ticket opens at: its street, its neighbours' markers apart. */
const TICKET_ZOOM = 15;

/** A 400 about the window (`window`, `from`, `to`): the person's dates to fix, not an outage. */
function isWindowError(error) {
  return error.status === 400 && ["window", "from", "to"].includes(error.parameter);
}

/** Says next to the date inputs what the window needs (null: nothing), filters open to see it. */
function showWindowProblem(problem) {
  $("window-hint").hidden = !problem;
  $("window-hint").textContent = problem ?? "";
  if (problem) $("filters-box").open = true;
}

/**
 * The key figures and the trend. A window the API refuses (or would: windowProblem) is the
 * person's to fix: the live cards (Open, Breached, At risk) come from the default window
 * meanwhile and the windowed ones wait for the dates. With CRQ shown, /api/health says whether
 * CRQ's newest file is too old (the dashboard's freshness is INC's).
 */
async function loadDashboard(gen) {
  // The figures only: the cards use none of the payload's tickets (the map has its own).
  const filters = { cluster: state.cluster, status: state.status, features: false };
  let problem = windowProblem(state);
  let data;
  if (!problem) {
    try {
      ({ data } = await getJson(`api/dashboard${query({ ...filters, ...windowParams(state) })}`));
    } catch (error) {
      if (!isWindowError(error)) throw error;
      problem = error.detail;
    }
  }
  if (problem) ({ data } = await getJson(`api/dashboard${query(filters)}`));
  const receivedAt = performance.now(); // a 304 too: the server's age is as of now
  if (gen !== generation) return;
  showWindowProblem(problem);
  renderKpis(data, { windowed: !problem });
  freshness = { data: data.freshness, receivedAt };
  showFreshness();
  dataShown = true;
  const to = data.window.to;
  const weekBefore = new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 86_400_000)
    .toISOString().slice(0, 10);
  const from = data.window.from < weekBefore ? data.window.from : weekBefore;
  const [backlog, health] = await Promise.all([
    getJson(`api/backlog${query({ from, to, cluster: state.cluster })}`),
    // Its failure leaves the banner as it was: the other requests report an outage.
    state.crq ? getJson("api/health").catch((error) => console.warn(error)) : null,
  ]);
  if (gen !== generation) return;
  charts.update(backlog.data.days ?? []);
  if (!state.crq || health) {
    const crq = health?.data.datasets.find((d) => d.dataset === "crq");
    crqHealth = state.crq ? crq ?? {} : null;
    showFreshness();
  }
}

/**
 * The header's "data as of" (and CRQ's) with the age grown by the time since the server gave it,
 * and the stale banners once that passes the limit: also while the server cannot be reached.
 */
function showFreshness() {
  if (!freshness) return;
  const since = (performance.now() - freshness.receivedAt) / 3_600_000;
  const grown = freshness.data?.newest_file_time
    ? { ...freshness.data, file_age_hours: Number(freshness.data.file_age_hours) + since }
    : freshness.data;
  renderFreshness(grown, config.staleAfterHours, config);
  if (crqHealth !== undefined) {
    renderCrqFreshness(crqHealth, grown, config.staleAfterHours, config);
  }
}

async function loadTeams(gen) {
  const body = $("teams-table").tBodies[0];
  const waiting = () => {
    body.innerHTML = `<tr><td colspan="9" class="note">Pick the window's dates.</td></tr>`;
  };
  if (windowProblem(state)) {
    waiting();
    return;
  }
  try {
    const { data } = await getJson(
      `api/teams${query({ cluster: state.cluster, ...windowParams(state) })}`,
    );
    if (gen === generation) renderTeams(body, data);
  } catch (error) {
    if (!isWindowError(error)) throw error;
    if (gen === generation) waiting(); // the dashboard's request says why, next to the dates
  }
}

/** Reloads everything; unchanged answers (304) leave the screen as it is. */
async function refresh() {
  const gen = ++generation;
  const key = selectionKey();
  const errors = [];
  const guard = (p) =>
    p.then(() => true, (e) => {
      console.error(e);
      errors.push(e);
      return false;
    });
  const [ticketsShown, figuresShown] = await Promise.all([
    guard(loadTickets(gen)),
    guard(loadDashboard(gen)),
    guard(loadTeams(gen)),
    state.near ? guard(loadNearest()) : null,
  ]);
  if (gen === generation) {
    if (ticketsShown && figuresShown) shownKey = key;
    showFailures(errors);
    const down = errors.some((e) => e.status === 0 || e.status === 503);
    // Back after an outage: the server may have restarted with other settings.
    if (outage && !down) await rereadConfig();
    else outage = down;
    showFreshness();
  }
  updateCsvLink();
  return { errors: errors.map((e) => e.message) };
}

/** Reads /api/config again (STALE_AFTER_HOURS may have changed); tries again next refresh. */
async function rereadConfig() {
  try {
    ({ data: config } = await getJson("api/config"));
    outage = false;
  } catch (error) {
    console.warn(error);
  }
}

/** The CSV of the current selection, with a byte-order mark first: Excel then reads UTF-8. */
function updateCsvLink() {
  $("csv").href = `api/tickets.csv${
    query({ ...ticketParams(state), open_only: "true", bom: "true" })
  }`;
}

/** With an access token, a plain link cannot send it: fetch the CSV and save it instead. */
async function downloadWithToken(event) {
  if (!authHeaders().Authorization) return;
  event.preventDefault();
  try {
    const response = await authorizedFetch($("csv").href);
    if (!response.ok) throw new Error(`Cannot download the CSV: HTTP ${response.status}`);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "tickets.csv";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    fail(error);
  }
}

function applyStateToForm() {
  countFilters(ticketFilterCount(state));
  $("crq").checked = state.crq;
  for (const key of ["cluster", "status", "team", "sla", "window", "from", "to"]) {
    const el = $(`f-${key}`);
    if (key === "cluster" || key === "status" || key === "team") {
      if (state[key] && ![...el.options].some((o) => o.value === state[key])) {
        el.add(new Option(optionLabel(state[key]), state[key]));
      }
    }
    el.value = state[key];
  }
  $("custom-dates").hidden = state.window !== "custom";
  $("n-rank").value = state.rank;
  showView();
}

function showView() {
  const table = state.view === "table";
  $("map").hidden = table;
  $("table-view").hidden = !table;
  $("view-map").setAttribute("aria-pressed", String(!table));
  $("view-table").setAttribute("aria-pressed", String(table));
  if (!table) mapView?.invalidate();
}

/** How long a filter changed from the keyboard waits for the next key before it loads. */
const KEYED_FILTER_MS = 600;
/** When a key was last pressed on a filter's select (performance.now()). */
let keyedAt = -Infinity;
let keyedFilter = null;

/**
 * A filter changed. From the keyboard (arrow keys, a letter) the select steps through values,
 * each a change: the one it rests on loads, once (before: every value passed was loaded and
 * became a history entry).
 */
function onFilterEvent(event) {
  clearTimeout(keyedFilter);
  const keyed = event.target instanceof HTMLSelectElement && performance.now() - keyedAt < 250;
  if (keyed) keyedFilter = setTimeout(onFilterChange, KEYED_FILTER_MS);
  else onFilterChange();
}

function onFilterChange() {
  clearTimeout(keyedFilter);
  const form = $("filters");
  const cluster = state.cluster;
  for (const key of ["cluster", "status", "team", "sla", "window", "from", "to"]) {
    state[key] = form.elements[key].value;
  }
  if (state.cluster !== cluster) fitOnLoad = true;
  countFilters(ticketFilterCount(state));
  state.crq = $("crq").checked;
  $("custom-dates").hidden = state.window !== "custom";
  // A custom window without usable dates yet loads too: the hint beside them says what is
  // missing, and the other filters (CRQ included) apply meanwhile.
  writeState(state);
  refresh();
}

function bindControls() {
  $("filters").addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLSelectElement) keyedAt = performance.now();
  });
  $("filters").addEventListener("change", onFilterEvent);
  // Escape closes the card (a ticket, or the list of a stack), where no field takes the key.
  addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.defaultPrevented) return;
    if (e.target.closest?.("input, select, textarea")) return;
    if (state.ticket || shownGroup) select(null);
    closeSheet();
  });
  $("crq").addEventListener("change", onFilterChange);
  $("f-reset").addEventListener("click", () => {
    resetFilters(state);
    applyStateToForm();
    onFilterChange();
  });
  $("csv").addEventListener("click", downloadWithToken);
  $("sheet-close").addEventListener("click", closeSheet);
  $("view-map").addEventListener("click", () => setView("map"));
  $("view-table").addEventListener("click", () => setView("table"));
  $("nearest-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const lat = Number($("n-lat").value);
    const lon = Number($("n-lon").value);
    // A blank field is no coordinate (before: " " read as 0, and the search ran at 0° latitude).
    if (!onGlobe(lat, lon) || !$("n-lat").value.trim() || !$("n-lon").value.trim()) {
      showNearestProblem($("n-lat").value, $("n-lon").value);
      return;
    }
    state.rank = $("n-rank").value;
    dispatchAt(lat, lon);
  });
  // A new rank asks at the point in the form: before, the point asked last came back over the
  // one just typed.
  $("n-rank").addEventListener("change", () => {
    state.rank = $("n-rank").value;
    if (state.near || $("n-lat").value || $("n-lon").value) $("nearest-form").requestSubmit();
  });
  addEventListener("popstate", () => {
    forgetNearestProblem(); // the point the history entry holds is judged afresh
    state = readState();
    applyStateToForm();
    showView();
    // The entry's view too (before: Back set the filters and the URL's `at` back, and the map
    // stayed where it was, showing none of that cluster's tickets; a map tester's).
    if (!showViewport()) fitOnLoad = true;
    // The entry's ticket (or none) at once: a refresh whose answers are unchanged draws nothing,
    // and the card kept the ticket the URL no longer names (a tester's).
    select(state.ticket || null, { push: false });
    refresh();
  });
}

function setView(view) {
  state.view = view;
  writeState(state);
  showView();
}

/**
 * Moves the map to the view the URL names (`at`), if it names one it can show. A link's view off
 * the globe or past the zooms is not kept (before: `at=95,200,40` opened an empty map at zoom
 * 18): the map fits the tickets, as with no view at all. Returns whether it was kept.
 */
function showViewport() {
  const [lat, lon, zoom] = state.at.split(",").map(Number);
  const kept = onGlobe(lat, lon) && zoom >= 0 && zoom <= mapView.map.getMaxZoom();
  if (kept) mapView.map.setView([lat, lon], zoom);
  else state.at = "";
  return kept;
}

function restoreViewport() {
  showViewport();
  mapView.map.on("moveend", () => {
    // A Back or Forward under way, its popstate not handled yet: the URL is another entry's,
    // which this view must not overwrite (before: a fit still moving at 1366×768 wrote the
    // cluster before's view into the entry Back went to; a map tester's).
    if (!sameEntry(location.search, stateUrl(state))) return;
    const c = mapView.map.getCenter();
    state.at = `${c.lat.toFixed(5)},${c.lng.toFixed(5)},${mapView.map.getZoom()}`;
    writeState(state, { replace: true });
  });
}

/** The page's settings; until the server gives them, says why and tries again. */
async function loadConfig() {
  for (;;) {
    try {
      const { data } = await getJson("api/config");
      showFailures([]);
      return data;
    } catch (error) {
      console.error(error);
      showFailures([error]);
      await nextTry();
    }
  }
}

async function boot() {
  foldFilters(() => hasTicketFilters(state));
  measureAbove();
  $("token-enter").addEventListener("click", enterToken);
  setTokenAsker(askWithForm);
  config = await loadConfig();
  mapView = await createMap($("map"), config, {
    onTicket: pick,
    onPoint: dispatchAt,
    onGroup: pickGroup,
  });
  table = createTable($("tickets-table"), $("table-caption"), pick);
  charts = createCharts($("chart-backlog"), $("chart-flow"));
  applyStateToForm();
  bindControls();
  restoreViewport();
  booted = true;
  await refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(() => {
    tickCountdown(featureOf(state.ticket), fetchedAt);
    showFreshness();
  }, 15_000);
}

const ready = boot().catch((error) => {
  fail(error);
  throw error;
});

// For people and tests driving the page: refresh now, know when the first load is done, and
// the map's size as Leaflet last measured it ({ x, y } in px; null before the map exists).
globalThis.fleetPage = {
  ready,
  refresh: () => refresh(),
  state: () => ({ ...state }),
  mapSize: () => mapView ? mapView.map.getSize() : null,
};
