// SLA cues that survive colour blindness: each state has a colour AND a shape. Cluster-precision
// points (a cluster centroid, not an address) are drawn hollow with a dashed outline.

export const STATES = ["breached", "at_risk", "ok", "unknown", "crq"];

export const LABELS = {
  breached: "breached",
  at_risk: "at risk",
  ok: "ok",
  unknown: "unknown",
  crq: "CRQ (no SLA)",
};

const COLOURS = {
  breached: "#c62828",
  at_risk: "#e69500",
  ok: "#2e7d32",
  unknown: "#757575",
  crq: "#1565c0",
};

/** The state a feature is drawn in: its SLA state, `crq` for installations (no SLA). */
export function stateOf(properties) {
  if (properties.dataset === "crq") return "crq";
  return STATES.includes(properties.sla_state) ? properties.sla_state : "unknown";
}

function shapePath(state, s) {
  const c = s / 2;
  const r = s / 2 - 2;
  switch (state) {
    case "breached":
      return `<path d="M${c} 2 L${s - 2} ${s - 2} L2 ${s - 2} Z"/>`;
    case "at_risk":
      return `<path d="M${c} 1 L${s - 1} ${c} L${c} ${s - 1} L1 ${c} Z"/>`;
    case "crq":
      return `<rect x="3" y="3" width="${s - 6}" height="${s - 6}"/>`;
    default:
      return `<circle cx="${c}" cy="${c}" r="${r}"/>`;
  }
}

/** An inline SVG of a state's shape; `coarse` = cluster-precision (hollow, dashed). */
export function shapeSvg(state, { size = 16, coarse = false, className = "" } = {}) {
  const colour = COLOURS[state];
  const hollow = coarse || state === "unknown";
  const fill = hollow ? "#fff" : colour;
  const dash = coarse ? ` stroke-dasharray="3 2"` : "";
  const width = hollow ? 2.5 : 1.2;
  const stroke = hollow ? colour : "#fff";
  return `<svg class="${className}" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" ` +
    `aria-hidden="true" fill="${fill}" stroke="${stroke}" stroke-width="${width}"${dash}>` +
    `${shapePath(state, size)}</svg>`;
}

/** The worst state among a cluster's counts. */
export function worstState(counts) {
  return STATES.find((s) => counts[s] > 0) ?? "unknown";
}

/** Leaflet icon of one ticket. */
export function ticketIcon(properties) {
  const state = stateOf(properties);
  const coarse = properties.geo_source === "cluster";
  const size = coarse ? 20 : 18;
  return L.divIcon({
    className: "ft-marker",
    html: shapeSvg(state, { size, coarse }),
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

/** The ring of a group: each state's share of the tickets, clockwise from the top. */
function ringGradient(counts, total) {
  let at = 0;
  const stops = [];
  for (const s of STATES) {
    if (!counts[s]) continue;
    const to = at + (counts[s] / total) * 100;
    stops.push(`${COLOURS[s]} ${at.toFixed(1)}% ${to.toFixed(1)}%`);
    at = to;
  }
  return `conic-gradient(${stops.join(", ")})`;
}

/**
 * A group's count as its ring shows it: whole up to 9,999, then whole thousands, "12k" for
 * 12,345 (before: five digits ran out of the ring; the marker's title has the whole count).
 */
export function countLabel(total) {
  return total < 10_000 ? String(total) : `${Math.floor(total / 1000)}k`;
}

/** Leaflet icon of a group of tickets: count, worst state (shape), share of each state (ring). */
export function clusterIcon(counts, total) {
  const state = worstState(counts);
  const size = total < 10 ? 34 : total < 100 ? 40 : total < 1000 ? 48 : 56;
  return L.divIcon({
    className: "ft-marker",
    html: `<div class="ft-cluster ${state}" style="width:${size}px;height:${size}px;` +
      `background:${ringGradient(counts, total)}"><div>` +
      `${shapeSvg(state, { size: 11 })}<span>${countLabel(total)}</span></div></div>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

function groupSample() {
  return `<span class="legend-group" style="background:${
    ringGradient({ breached: 1, at_risk: 1, ok: 2 }, 4)
  }"></span>`;
}

/** The dispatch point: a crosshair, unlike any ticket shape. */
export function dispatchIcon() {
  return L.divIcon({
    className: "ft-marker",
    html: `<svg width="26" height="26" viewBox="0 0 26 26" aria-hidden="true" fill="none" ` +
      `stroke="#111" stroke-width="2.5"><circle cx="13" cy="13" r="7"/>` +
      `<path d="M13 1v7M13 18v7M1 13h7M18 13h7"/></svg>`,
    iconSize: [26, 26],
    iconAnchor: [13, 13],
  });
}

/** The legend's HTML (a `<details>`'s): every state with its shape, and the cluster-precision cue. */
export function legendHtml() {
  const rows = STATES.map((s) => `<div>${shapeSvg(s)}${LABELS[s]}</div>`);
  rows.push(`<div>${shapeSvg("ok", { coarse: true })}cluster centroid (not an address)</div>`);
  rows.push(`<div>${groupSample()}group (ring: share per state)</div>`);
  rows.push(
    `<div>${
      dispatchIcon().options.html.replace('width="26" height="26"', 'width="16" height="16"')
    }dispatch point</div>`,
  );
  return `<summary>SLA state</summary>${rows.join("")}`;
}
