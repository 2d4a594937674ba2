// The closure attribution table from /api/teams.

import { cellText, hours, share } from "./format.js";

/** Fills the teams table. */
export function renderTeams(tbody, payload) {
  const rows = payload?.rows ?? [];
  if (rows.length === 0) {
    tbody.innerHTML = `<tr><td colspan="9" class="note">No closure or open ticket in this ` +
      `window.</td></tr>`;
    return;
  }
  tbody.innerHTML = rows.map((r) =>
    `<tr><th scope="row">${cellText(r.key)}</th><td>${r.closures}</td>` +
    `<td>${hours(r.mttr_hours?.median)}</td><td>${hours(r.mttr_hours?.p90)}</td>` +
    `<td>${
      share(r.closed_compliant, r.closed_compliant + r.closed_breached)
    }</td><td>${r.open}</td><td>${r.open_breached}</td>` +
    `<td>${r.open_at_risk}</td><td>${r.reopened}</td></tr>`
  ).join("");
}
