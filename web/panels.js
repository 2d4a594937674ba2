// The panels around the map: key figures, freshness, the selected ticket, the nearest list.

import {
  age,
  ago,
  countdown,
  eatTime,
  esc,
  GEO_SOURCES,
  hours,
  metres,
  old,
  share,
  shown,
} from "./format.js";
import { LABELS, shapeSvg, stateOf } from "./markers.js";

const $ = (id) => document.getElementById(id);

/**
 * The KPI cards from the dashboard payload. `windowed: false` (the window asked for cannot be
 * used yet): the live cards only; Closed, MTTR and Compliance wait for the dates.
 */
export function renderKpis(dashboard, { windowed = true } = {}) {
  const m = dashboard.metrics;
  $("kpi-open").textContent = String(m.open_total);
  $("kpi-breached").textContent = String(m.open_sla.breached);
  $("kpi-at-risk").textContent = String(m.open_sla.at_risk);
  $("kpi-closed").textContent = windowed ? String(m.closed_in_window) : "–";
  $("kpi-closed-label").textContent = windowed
    ? `Closed (${windowLabel(dashboard.window)})`
    : "Closed (pick dates)";
  $("kpi-mttr").textContent = windowed ? hours(m.mttr_hours?.median) : "–";
  $("kpi-compliance").textContent = windowed
    ? share(m.closed_compliant, m.closed_compliant + m.closed_breached)
    : "–";
}

function windowLabel(w) {
  if (!w) return "window";
  return w.name === "custom" ? `${w.from} – ${w.to}` : w.name;
}

/**
 * The "data as of" line and the stale banner. `freshness.file_age_hours` is the age now: the
 * caller adds the time since the server answered (also while it cannot be reached).
 */
export function renderFreshness(freshness, staleAfterHours, config = {}) {
  const asOf = $("as-of");
  const stale = $("stale");
  if (!freshness?.newest_file_time) {
    asOf.textContent = "no change file applied yet";
    stale.hidden = true;
    return;
  }
  const age = Number(freshness.file_age_hours);
  asOf.textContent = `data as of ${eatTime(freshness.newest_file_time)} (${ago(age)})`;
  asOf.title = `newest applied file: ${freshness.newest_file}`;
  stale.hidden = !(age > staleAfterHours);
  stale.textContent = stale.hidden ? "" : `Stale data: the newest applied change file ` +
    `(${freshness.newest_file}) is ${old(age)}, over the ${staleAfterHours} h limit. ` +
    `Check the export and the ingest schedule.${besideServe(config)}`;
}

/**
 * A stale banner's likeliest cause on the embedded database, from the server's `/api/config`: no
 * ingest runs while this server holds it (a tester's cron skipped every run, and the banner named
 * only the export); or this server shows the demo's database, which no ingest writes (before:
 * the same words, though an ingest then ran, into the default folder; a newcomer's).
 */
function besideServe({ embedded = false, demo = false }) {
  if (demo) {
    return " This server shows the demo's database, which no ingest writes: an ingest fills " +
      ".data/pglite, which a restart of this server then shows.";
  }
  return embedded
    ? " On the embedded database no ingest can run while this server does: stop it for the " +
      "ingest, or keep the data in PostgreSQL."
    : "";
}

/** A change file's export time (its name, EAT wall clock) as ISO 8601; null for another name. */
function fileTime(name) {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})/.exec(name ?? "");
  return m ? `${m[1]}T${m[2]}:${m[3]}:${m[4]}+03:00` : null;
}

/**
 * With CRQ shown (`crq`: its /api/health entry, `{}` when none; null: CRQ hidden): its export
 * time in the header, and its own stale banner when /api/health calls it unhealthy or its age
 * has since passed the limit. Its age is counted from the server's clock, which INC's freshness
 * gives (the browser's may differ).
 */
export function renderCrqFreshness(crq, incFreshness, staleAfterHours, config = {}) {
  const note = $("as-of-crq");
  const stale = $("stale-crq");
  note.hidden = !crq;
  stale.hidden = true;
  if (!crq) return;
  if (!crq.watermark) {
    note.textContent = " · CRQ: no change file applied yet";
    stale.textContent = "";
    return;
  }
  const time = fileTime(crq.watermark);
  const now = incFreshness?.newest_file_time
    ? Date.parse(incFreshness.newest_file_time) + Number(incFreshness.file_age_hours) * 3_600_000
    : null;
  const age = time && now !== null ? (now - Date.parse(time)) / 3_600_000 : null;
  stale.hidden = crq.healthy && !(age > staleAfterHours);
  note.textContent = ` · CRQ as of ${time ? eatTime(time) : crq.watermark}` +
    (age === null ? "" : ` (${ago(age)})`);
  note.title = `newest applied CRQ file: ${crq.watermark}`;
  stale.textContent = stale.hidden ? "" : `Stale CRQ data: the newest applied CRQ change file ` +
    `(${crq.watermark}) is ${age === null ? "" : `${old(age)}, `}over the ` +
    `${staleAfterHours} h limit. Check the CRQ export and the ingest schedule.` +
    besideServe(config);
}

/** Shows an error line (or hides it with null). */
export function renderError(message) {
  $("error").hidden = !message;
  $("error").textContent = message ?? "";
}

function stateBadge(p) {
  const state = stateOf(p);
  return `${
    shapeSvg(state, { size: 14, coarse: p.geo_source === "cluster", className: "state-icon" })
  }${esc(LABELS[state])}`;
}

/** Minutes to breach now, from the value at fetch time. */
export function minutesLeft(p, fetchedAt) {
  if (p.minutes_to_breach === null || p.minutes_to_breach === undefined) return null;
  return p.minutes_to_breach - (Date.now() - fetchedAt) / 60_000;
}

/** The card's rows of the feed's text: status, team, owner, cluster, location (each cut). */
function feedRows(p) {
  return [
    ["Status", shown(p.normalized_status ?? p.raw_status)],
    ["Team", shown(p.assigned_team ?? "(none)")],
    ["Owner", shown(p.owner ?? "(none)")],
    ["Cluster", shown(p.cluster)],
    ["Location", shown(p.location_name)],
  ];
}

/** The selected ticket's card. */
export function renderTicket(feature, fetchedAt) {
  const box = $("ticket");
  if (!feature) {
    box.innerHTML = `<h2>Ticket</h2><p class="note">Click a ticket on the map or in the table.</p>`;
    return;
  }
  const p = feature.properties;
  const [lon, lat] = feature.geometry?.coordinates ?? [];
  const rows = [
    ["SLA state", stateBadge(p)],
    ...feedRows(p),
    ["Open for", age(p.hours_open)],
    ["Time to breach", `<span id="countdown">${esc(countdown(minutesLeft(p, fetchedAt)))}</span>`],
    ["Placed by", esc(GEO_SOURCES[p.geo_source] ?? p.geo_source)],
    ["Point", lat === undefined ? "–" : `${lat.toFixed(5)}, ${lon.toFixed(5)}`],
  ];
  box.innerHTML = `<h2>${esc(p.ticket_id)} <small>${esc(p.dataset?.toUpperCase())}</small></h2>` +
    `<dl class="ticket">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

/**
 * The selected ticket's card once it is no longer among the tickets shown, from
 * /api/tickets/{id} (`feature`; null: no such ticket, or `known: false`, not answered): closed,
 * with when; still open but hidden by the filters; or gone from the data.
 */
export function renderTicketGone(id, feature, { known = true } = {}) {
  const box = $("ticket");
  const p = feature?.properties;
  let why;
  if (!p) {
    why = known
      ? "Not in the data: the server has no ticket with this id."
      : "Not among the tickets shown; its state cannot be read now.";
  } else if (!p.is_open) {
    why = `${p.closed_at ? `Closed at ${eatTime(p.closed_at)}` : "Closed"}: no longer open, ` +
      `so not on the map or in the table.`;
  } else {
    why = "Still open, but not among the tickets shown: the filters (or show CRQ) hide it.";
  }
  const rows = p ? feedRows(p) : [];
  box.innerHTML = `<h2>${esc(id)}${p ? ` <small>${esc(p.dataset?.toUpperCase())}</small>` : ""}` +
    `</h2><p class="note" id="ticket-gone">${esc(why)}</p>` +
    (rows.length
      ? `<dl class="ticket">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>`
      : "");
}

/** Ticks the selected ticket's countdown. */
export function tickCountdown(feature, fetchedAt) {
  const el = $("countdown");
  if (el && feature) el.textContent = countdown(minutesLeft(feature.properties, fetchedAt));
}

/**
 * Tickets stacked at one point (they never come apart by zooming): a list to pick from, the
 * nearest to breach first (the most overdue at the top; those without a clock last).
 */
export function renderGroup(list, onPick) {
  const box = $("ticket");
  const urgent = [...list].sort((a, b) =>
    (a.minutes_to_breach ?? Infinity) - (b.minutes_to_breach ?? Infinity)
  );
  box.innerHTML = `<h2>${list.length} tickets at this point</h2><ol class="nearest-list">${
    urgent.map((p) =>
      `<li><button type="button" data-id="${esc(p.ticket_id)}">${stateBadge(p)} ` +
      `${esc(p.ticket_id)} · ${shown(p.assigned_team ?? "(no team)")}</button></li>`
    ).join("")
  }</ol>`;
  box.querySelectorAll("button[data-id]").forEach((b) =>
    b.addEventListener("click", () => onPick(b.dataset.id))
  );
}

/** The nearest list, in the API's order. */
export function renderNearest(collection, onPick) {
  const list = $("nearest-list");
  const features = collection?.features ?? [];
  if (features.length === 0) {
    list.innerHTML = collection ? `<li class="note">No open ticket within reach.</li>` : "";
    return;
  }
  list.innerHTML = features.map((f) => {
    const p = f.properties;
    const state = stateOf(p);
    // Placed at its cluster's centroid: the distance is to that, not to the fault (before: "0 m"
    // beside a solid icon, as if the vehicle stood at the address).
    const coarse = p.geo_source === "cluster";
    const distance = coarse
      ? `${metres(p.distance_m)} to its cluster's centre (no address)`
      : metres(p.distance_m);
    return `<li data-id="${esc(p.ticket_id)}"><button type="button" data-id="${
      esc(p.ticket_id)
    }" ` +
      `aria-label="${esc(`${p.ticket_id}, ${LABELS[state]}, ${distance}`)}">` +
      `${shapeSvg(state, { size: 13, coarse, className: "state-icon" })}<strong>${
        esc(p.ticket_id)
      }</strong>` +
      ` · <span class="distance">${esc(distance)}</span><br><small>${
        esc(countdown(p.minutes_to_breach))
      } · ` +
      `${shown(p.assigned_team ?? "(no team)")}</small></button></li>`;
  }).join("");
  list.querySelectorAll("button[data-id]").forEach((b) =>
    b.addEventListener("click", () => onPick(b.dataset.id))
  );
}
