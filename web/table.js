// The table view: the same tickets as the map, sortable by keyboard (header buttons), each row
// focusable (Enter selects the ticket). The accessible alternative to the map.

import { age, cellText, countdown, esc } from "./format.js";
import { LABELS, shapeSvg, stateOf } from "./markers.js";

const SEVERITY = { breached: 0, at_risk: 1, ok: 2, unknown: 3, crq: 4 };
const MAX_ROWS = 2000;

const COLUMNS = [
  { key: "state", label: "SLA state", value: (p) => SEVERITY[stateOf(p)] },
  { key: "ticket_id", label: "Ticket", value: (p) => p.ticket_id },
  { key: "status", label: "Status", value: (p) => p.normalized_status ?? "" },
  { key: "team", label: "Team", value: (p) => p.assigned_team ?? "" },
  { key: "owner", label: "Owner", value: (p) => p.owner ?? "" },
  { key: "cluster", label: "Cluster", value: (p) => p.cluster ?? "" },
  { key: "hours_open", label: "Hours open", value: (p) => num(p.hours_open) },
  { key: "breach", label: "Time to breach", value: (p) => num(p.minutes_to_breach) },
  { key: "geo", label: "Placed by", value: (p) => p.geo_source ?? "" },
];

function num(v) {
  return v === null || v === undefined ? Infinity : Number(v);
}

function compare(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), "en", { numeric: true });
}

/** Creates the table controller; `onPick(id)` when a row is chosen. */
export function createTable(table, caption, onPick) {
  const view = { table, caption, sort: { key: "breach", dir: 1 }, features: [], selected: null };
  followRows(table.tBodies[0], onPick);
  return {
    setTickets(list) {
      view.features = list;
      render(view);
    },
    select(id) {
      view.selected = id || null;
      markSelected(table, view.selected);
    },
  };
}

/** Draws the header and the sorted rows (the first MAX_ROWS) with the caption that counts them. */
function render(view) {
  const { table, caption, sort } = view;
  header(view);
  const column = COLUMNS.find((c) => c.key === sort.key) ?? COLUMNS[0];
  const rows = view.features.map((f) => f.properties)
    .sort((a, b) =>
      sort.dir * compare(column.value(a), column.value(b)) ||
      compare(a.ticket_id, b.ticket_id)
    );
  table.tBodies[0].innerHTML = rows.slice(0, MAX_ROWS).map((p) => row(p, view.selected)).join("");
  caption.textContent = rows.length > MAX_ROWS
    ? `Showing the first ${MAX_ROWS} of ${rows.length} tickets; the CSV has them all.`
    : `${rows.length} ticket${
      rows.length === 1 ? "" : "s"
    }. Sort with the column buttons; Enter on a row selects it.`;
}

/** The column headers, each a button: a click sorts by its column, a second click reverses. */
function header(view) {
  const { table, sort } = view;
  table.tHead.innerHTML = `<tr>${
    COLUMNS.map((c) => {
      const aria = c.key === sort.key ? (sort.dir > 0 ? "ascending" : "descending") : "none";
      const arrow = c.key === sort.key ? (sort.dir > 0 ? " ▲" : " ▼") : "";
      return `<th scope="col" aria-sort="${aria}"><button type="button" data-key="${c.key}">` +
        `${c.label}${arrow}</button></th>`;
    }).join("")
  }</tr>`;
  table.tHead.querySelectorAll("button").forEach((b) =>
    b.addEventListener("click", () => {
      view.sort = { key: b.dataset.key, dir: view.sort.key === b.dataset.key ? -view.sort.dir : 1 };
      render(view);
      table.tHead.querySelector(`button[data-key="${view.sort.key}"]`)?.focus();
    })
  );
}

function row(p, selected) {
  const state = stateOf(p);
  return `<tr tabindex="0" data-id="${esc(p.ticket_id)}"${
    p.ticket_id === selected ? ` class="selected" aria-selected="true"` : ""
  }>` +
    `<td>${
      shapeSvg(state, { size: 12, coarse: p.geo_source === "cluster", className: "state-icon" })
    }` +
    `${esc(LABELS[state])}</td><td>${cellText(p.ticket_id)}</td>` +
    `<td>${cellText(p.normalized_status)}</td><td>${cellText(p.assigned_team ?? "")}</td>` +
    `<td>${cellText(p.owner ?? "")}</td><td>${cellText(p.cluster)}</td>` +
    `<td>${age(p.hours_open)}</td><td>${esc(countdown(p.minutes_to_breach))}</td>` +
    `<td>${esc(p.geo_source ?? "")}</td></tr>`;
}

/** A click or Enter (or Space) on a row picks it; the arrow keys move between rows. */
function followRows(tbody, onPick) {
  tbody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (tr) onPick(tr.dataset.id);
  });
  tbody.addEventListener("keydown", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (!tr) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onPick(tr.dataset.id);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      (e.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling)?.focus();
    }
  });
}

function markSelected(table, selected) {
  for (const tr of table.tBodies[0].rows) {
    const on = tr.dataset.id === selected;
    tr.classList.toggle("selected", on);
    if (on) tr.setAttribute("aria-selected", "true");
    else tr.removeAttribute("aria-selected");
  }
}
