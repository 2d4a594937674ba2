// The map: Leaflet for rendering, supercluster for grouping. No outside host is called unless
// the server's config names a tile source (MAP_TILES_URL) or a local PMTiles archive.

import { shown } from "./format.js";
import { clusterIcon, dispatchIcon, legendHtml, stateOf, STATES, ticketIcon } from "./markers.js";

const MAX_CLUSTER_ZOOM = 16;
const MAX_ZOOM = 18;
/**
 * Where the legend starts folded: a phone, or a window as short as a 1366×768 laptop's screen,
 * full (a kiosk) or less a browser's bars (before: 720 px, so at 768 it stood open over a quarter
 * of the map; a newcomer's).
 */
const FOLDED = "(max-width: 599px), (max-height: 800px)";
/** Cluster names are written from this zoom on (below it they would cover the markers). */
const AREA_LABEL_ZOOM = 10;

function countsOf(state) {
  return Object.fromEntries(STATES.map((s) => [s, s === state ? 1 : 0]));
}

/**
 * The grouping index of the placed tickets. Its points carry only their place in `placed`
 * (`{ i }`): supercluster reads a point's `cluster` property as its own "this is a group" flag,
 * and every ticket has one (its cluster's name).
 */
function createIndex(placed) {
  const index = new Supercluster({
    radius: 44,
    maxZoom: MAX_CLUSTER_ZOOM,
    map: ({ i }) => countsOf(stateOf(placed[i].properties)),
    reduce: (acc, p) => {
      for (const s of STATES) acc[s] += p[s];
    },
  });
  index.load(placed.map((f, i) => ({ type: "Feature", geometry: f.geometry, properties: { i } })));
  return index;
}

const isPoint = (f) => f.geometry && f.geometry.type === "Point";

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`Cannot load "${src}"`));
    document.head.append(script);
  });
}

async function addBasemap(map, config) {
  if (config.pmtiles) {
    await loadScript("vendor/pmtiles/pmtiles.js");
    const archive = new pmtiles.PMTiles(new URL("tiles.pmtiles", location.href).href);
    pmtiles.leafletRasterLayer(archive, { maxNativeZoom: 15, maxZoom: MAX_ZOOM }).addTo(map);
  } else if (config.tilesUrl) {
    L.tileLayer(config.tilesUrl, { maxZoom: MAX_ZOOM }).addTo(map);
  }
}

/**
 * The legend folds (a `<details>`): open on a large screen, folded to its title on a phone, where
 * open it covered a third of the map, and on a short screen (a laptop's 1366×768: a quarter of
 * the map). Clicks and scrolls on it stay off the map.
 */
function addLegend(map) {
  const legend = L.control({ position: "topright" });
  legend.onAdd = () => {
    const details = L.DomUtil.create("details", "legend");
    details.innerHTML = legendHtml();
    const folded = matchMedia(FOLDED);
    details.open = !folded.matches;
    folded.addEventListener("change", () => details.open = !folded.matches); // turned, resized
    L.DomEvent.disableClickPropagation(details);
    L.DomEvent.disableScrollPropagation(details);
    return details;
  };
  legend.addTo(map);
}

/** A marker's data attributes say what it stands for (count per state), for tests and tools. */
function tagElement(marker, counts, extra = {}) {
  marker.on("add", () => {
    const el = marker.getElement();
    if (!el) return;
    let total = 0;
    for (const s of STATES) {
      el.dataset[s === "at_risk" ? "atRisk" : s] = String(counts[s] ?? 0);
      total += counts[s] ?? 0;
    }
    el.dataset.count = String(total);
    for (const [k, v] of Object.entries(extra)) el.dataset[k] = v;
  });
}

/** Creates the map in `element`; callbacks: onTicket(id), onPoint(lat, lon), onGroup(leaves). */
export async function createMap(element, config, callbacks) {
  const map = await createLeafletMap(element, config);
  // The selection ring above the markers (Leaflet's marker pane is 600): in the overlay pane it
  // was drawn under them, hidden by a group or a stack holding the ticket (a map tester's).
  map.createPane("selection");
  Object.assign(map.getPane("selection").style, { zIndex: "650", pointerEvents: "none" });
  /** What the markers are drawn from; the layers in drawing order (areas under points). */
  const view = {
    map,
    callbacks,
    areas: L.layerGroup().addTo(map),
    points: L.layerGroup().addTo(map),
    overlay: L.layerGroup().addTo(map),
    placed: [],
    index: createIndex([]),
    byId: new Map(),
    selected: null,
  };
  view.elsewhere = addElsewhere(view);
  followView(element, view);
  // The map's box changes with the page (the note on tickets without a place shown or hidden
  // below it, a banner above): Leaflet measures it again, or tiles and fits use the old size.
  // Not while the table view hides it: a fit made then would fit a 0 × 0 map (the whole world).
  new ResizeObserver(() => {
    if (element.clientWidth > 0 && element.clientHeight > 0) map.invalidateSize();
  }).observe(element);

  let vehicle = null;
  return {
    map,
    /** Replaces the tickets; the viewport and the selection stay as they are. */
    setTickets(features) {
      showTickets(view, features);
    },
    /** Cluster centroids and their reach, drawn as labelled dashed circles (no tiles needed). */
    setAreas(areaList) {
      drawAreas(view.areas, areaList);
    },
    select(id) {
      view.selected = id || null;
      drawSelection(view);
    },
    /** Fits the view to the tickets (the first load, and a cluster chosen). */
    fitTo(features) {
      fitView(map, features);
    },
    /** Centres the view on one ticket at `zoom`. */
    centreOn(feature, zoom) {
      const [lon, lat] = feature.geometry.coordinates;
      map.setView([lat, lon], zoom);
    },
    setVehicle(lat, lon) {
      if (vehicle) view.overlay.removeLayer(vehicle);
      vehicle = lat === null ? null : vehicleMarker(lat, lon);
      if (vehicle) view.overlay.addLayer(vehicle);
    },
    invalidate() {
      map.invalidateSize();
    },
  };
}

function showTickets(view, features) {
  view.placed = features.filter(isPoint);
  view.index = createIndex(view.placed);
  view.byId = new Map(features.map((f) => [f.properties.ticket_id, f]));
  render(view);
  drawSelection(view);
}

/** The Leaflet map over East Africa, with its basemap (if any), scale and legend. */
async function createLeafletMap(element, config) {
  // trackResize off: the map's own ResizeObserver (createMap) follows its box, window sizes
  // included, and skips a hidden map (Leaflet's window listener measured it 0 × 0 in the table
  // view, and a fit made then showed the whole world).
  const map = L.map(element, {
    maxZoom: MAX_ZOOM,
    minZoom: 2,
    worldCopyJump: true,
    trackResize: false,
  });
  map.attributionControl.setPrefix(false);
  map.setView([-1.29, 36.82], 6);
  await addBasemap(map, config);
  L.control.scale({ imperial: false }).addTo(map);
  addLegend(map);
  return map;
}

/** Redraws the markers when the view moves, shows area names when zoomed in, reports clicks. */
function followView(element, view) {
  const { map, callbacks } = view;
  const labelZoom = () =>
    element.classList.toggle("show-area-labels", map.getZoom() >= AREA_LABEL_ZOOM);
  map.on("zoomend", labelZoom);
  labelZoom();
  map.on("moveend", () => render(view));
  map.on("click", (e) => callbacks.onPoint(e.latlng.lat, e.latlng.lng));
}

/**
 * Draws the markers in (and around) the viewport. The marker that had the keyboard focus keeps
 * it: focusing one pans the map to it, which redraws them all (before, the focus fell to the
 * page and the next Tab began the markers again, a trap for keyboard users). A move while the
 * focus is given back draws nothing: for a marker within a pixel of the edge Leaflet's pan rounds
 * to nothing and reports the move at once, so each redraw focused the new marker, which panned
 * again ("Maximum call stack size exceeded", seen in CI while tabbing through the markers).
 */
function render(view) {
  if (view.refocusing) return;
  showElsewhere(view);
  const focused = focusedKey(view.map.getContainer());
  view.points.clearLayers();
  drawMarkers(view);
  if (focused === undefined) return;
  view.refocusing = true;
  try {
    refocus(view.points, focused);
  } finally {
    view.refocusing = false;
  }
}

/** The `data-key` of the marker in `container` that has the keyboard focus, if one has. */
function focusedKey(container) {
  const active = document.activeElement;
  return active instanceof HTMLElement && container.contains(active)
    ? active.dataset.key
    : undefined;
}

function refocus(points, key) {
  points.eachLayer((marker) => {
    const el = marker.getElement();
    if (el?.dataset.key === key) el.focus({ preventScroll: true });
  });
}

/** The markers: groups, then tickets past the grouping zooms. */
function drawMarkers(view) {
  const { map, points, index } = view;
  const b = map.getBounds().pad(0.2);
  const bbox = [
    b.getWest(),
    Math.max(b.getSouth(), -85),
    b.getEast(),
    Math.min(b.getNorth(), 85),
  ];
  const zoom = Math.min(Math.round(map.getZoom()), MAX_CLUSTER_ZOOM + 1);
  // In reading order (north to south, then west to east), so Tab goes through them as they are
  // seen (before: in the index's order, neither position nor urgency; a map tester's).
  const features = index.getClusters(bbox, zoom).sort((a, b) =>
    b.geometry.coordinates[1] - a.geometry.coordinates[1] ||
    a.geometry.coordinates[0] - b.geometry.coordinates[0]
  );
  if (zoom <= MAX_CLUSTER_ZOOM) {
    for (const f of features) points.addLayer(markerOf(view, f));
    return;
  }
  // Past the grouping zooms each ticket is its own marker: tickets at one spot (a place, a
  // cluster centroid) would cover each other, so they stay one group that lists them.
  const spots = new Map();
  for (const f of features) {
    const key = f.geometry.coordinates.join(",");
    spots.set(key, [...(spots.get(key) ?? []), f]);
  }
  for (const stack of spots.values()) {
    points.addLayer(stack.length === 1 ? markerOf(view, stack[0]) : stackMarker(view, stack));
  }
}

/**
 * Whether a marker is in the visible map, so a Tab stop: the ones drawn in the margin around it
 * (for panning) are not (before: 11 of 23 markers Tab reached were off the map, each pan to one
 * moving the view; a map tester's).
 */
function seen(view, lat, lon) {
  return view.map.getBounds().contains([lat, lon]);
}

/** One marker for tickets at one spot, past the grouping zooms: a click lists them. */
function stackMarker(view, stack) {
  const [lon, lat] = stack[0].geometry.coordinates;
  const tickets = stack.map((f) => view.placed[f.properties.i].properties);
  const counts = countsOf(null);
  for (const t of tickets) counts[stateOf(t)]++;
  const marker = L.marker([lat, lon], {
    icon: clusterIcon(counts, tickets.length),
    title: `${tickets.length} tickets`,
    keyboard: seen(view, lat, lon),
  });
  tagElement(marker, counts, { group: "1", key: `s:${lat},${lon}` });
  onActivate(marker, () => view.callbacks.onGroup(tickets));
  return marker;
}

/** A group's marker (a click zooms in or lists it) or a ticket's (a click opens it). */
function markerOf(view, feature) {
  const [lon, lat] = feature.geometry.coordinates;
  if (feature.properties.cluster) {
    const p = feature.properties;
    const marker = L.marker([lat, lon], {
      icon: clusterIcon(p, p.point_count),
      title: `${p.point_count} tickets`,
      keyboard: seen(view, lat, lon),
    });
    tagElement(marker, p, { group: "1", key: `g:${p.cluster_id}` });
    onActivate(marker, () => openGroup(view, p.cluster_id, [lat, lon]));
    return marker;
  }
  const p = view.placed[feature.properties.i].properties;
  const state = stateOf(p);
  const marker = L.marker([lat, lon], {
    icon: ticketIcon(p),
    title: `${p.ticket_id} (${state.replace("_", " ")}${
      p.geo_source === "cluster" ? ", cluster centroid" : ""
    })`,
    keyboard: seen(view, lat, lon),
  });
  tagElement(marker, countsOf(state), {
    ticket: p.ticket_id,
    geo: p.geo_source ?? "",
    key: `t:${p.ticket_id}`,
  });
  onActivate(marker, () => view.callbacks.onTicket(p.ticket_id));
  return marker;
}

/**
 * A marker's action on a click, and on Enter or Space once it has the keyboard's focus (markers
 * are Tab stops; before, Enter did nothing: Leaflet's own Enter opens a bound popup, and these
 * have none).
 */
function onActivate(marker, action) {
  marker.on("click", action);
  marker.on("keydown", (e) => {
    if (e.originalEvent.key !== "Enter" && e.originalEvent.key !== " ") return;
    e.originalEvent.preventDefault(); // Space would scroll the page
    action();
  });
}

function openGroup(view, clusterId, latlng) {
  const { map, index } = view;
  const zoom = index.getClusterExpansionZoom(clusterId);
  if (zoom <= MAX_CLUSTER_ZOOM && zoom <= map.getMaxZoom()) {
    map.setView(latlng, zoom);
    return;
  }
  // Tickets at one spot (a place or a cluster centroid) never come apart: list them instead.
  const leaves = index.getLeaves(clusterId, Infinity);
  view.callbacks.onGroup(leaves.map((f) => view.placed[f.properties.i].properties));
}

/**
 * A note on the map when none of the tickets shown is in view, with a button that fits them (a
 * link with a cluster and a view over another city showed an empty map without a word; a map
 * tester's).
 */
function addElsewhere(view) {
  const control = L.control({ position: "bottomleft" });
  control.onAdd = () => {
    const box = L.DomUtil.create("div", "elsewhere");
    box.hidden = true;
    box.setAttribute("role", "status");
    box.innerHTML = `<span></span> <button type="button">Show them</button>`;
    L.DomEvent.disableClickPropagation(box);
    box.querySelector("button").addEventListener("click", () => fitView(view.map, view.placed));
    return box;
  };
  control.addTo(view.map);
  return control.getContainer();
}

function showElsewhere(view) {
  const { map, placed, elsewhere } = view;
  const bounds = map.getBounds();
  const seen = placed.some((f) => {
    const [lon, lat] = f.geometry.coordinates;
    return bounds.contains([lat, lon]);
  });
  elsewhere.hidden = placed.length === 0 || seen;
  if (elsewhere.hidden) return;
  const one = placed.length === 1;
  elsewhere.firstElementChild.textContent = one
    ? "The ticket shown is not in view"
    : `None of the ${placed.length} tickets shown is in view`;
  elsewhere.lastElementChild.textContent = one ? "Show it" : "Show them";
}

/** A ring around the selected ticket. */
function drawSelection(view) {
  const { overlay, selected, byId } = view;
  overlay.eachLayer((layer) => layer.options.selection && overlay.removeLayer(layer));
  const feature = selected && byId.get(selected);
  if (!feature?.geometry) return;
  const [lon, lat] = feature.geometry.coordinates;
  overlay.addLayer(L.circleMarker([lat, lon], {
    selection: true,
    pane: "selection",
    radius: 16,
    color: "#2f6fde",
    weight: 3,
    fill: false,
    interactive: false,
  }));
}

function drawAreas(areas, areaList) {
  areas.clearLayers();
  for (const a of areaList) {
    areas.addLayer(L.circle([a.lat, a.lon], {
      radius: a.radiusM,
      color: "#8a94a6",
      weight: 1,
      dashArray: "4 4",
      fillColor: "#cfd6e0",
      fillOpacity: 0.25,
      interactive: false,
    }));
    areas.addLayer(L.marker([a.lat, a.lon], {
      icon: L.divIcon({
        className: "ft-area-label",
        html: `<span>${shown(a.name)}</span>`, // before: "&<>\"" dropped from the name
        iconSize: [0, 0],
      }),
      interactive: false,
      keyboard: false,
    }));
  }
}

function fitView(map, features) {
  const placed = features.filter((f) => f.geometry);
  if (placed.length === 0) return;
  const bounds = L.latLngBounds(placed.map((f) => [
    f.geometry.coordinates[1],
    f.geometry.coordinates[0],
  ]));
  map.fitBounds(bounds.pad(0.05), { maxZoom: 13 });
}

/** The dispatch point the nearest tickets are measured from. */
function vehicleMarker(lat, lon) {
  return L.marker([lat, lon], {
    icon: dispatchIcon(),
    interactive: false,
    keyboard: false,
  });
}
