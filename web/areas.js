// The offline background: one labelled, dashed circle per ticket cluster, centred on its
// gazetteer centroid (where its cluster-precision tickets sit) and reaching its located tickets,
// so the map reads with no tile server.

const MIN_RADIUS_M = 1200;

function metresBetween([lon1, lat1], [lon2, lat2]) {
  const rad = Math.PI / 180;
  const x = (lon2 - lon1) * rad * Math.cos(((lat1 + lat2) / 2) * rad);
  const y = (lat2 - lat1) * rad;
  return Math.sqrt(x * x + y * y) * 6_371_000;
}

/**
 * Areas `{name, lat, lon, radiusM}` from ticket features (any filter: pass all of them): one per
 * cluster in any case and without the white space around it, as the filters match it, named as
 * most of its tickets spell it ({@link mostSpelled}; before: one circle and label per spelling).
 */
export function clusterAreas(features) {
  const groups = new Map();
  for (const f of features) {
    const name = f.properties.cluster;
    if (!name || !f.geometry) continue;
    const key = nameKey(name);
    const g = groups.get(key) ?? { centroid: null, points: [], names: new Map() };
    g.names.set(name, (g.names.get(name) ?? 0) + 1);
    if (f.properties.geo_source === "cluster") g.centroid = f.geometry.coordinates;
    else g.points.push(f.geometry.coordinates);
    groups.set(key, g);
  }
  const areas = [];
  for (const g of groups.values()) {
    const name = mostSpelled(g.names);
    const centroid = g.centroid ?? [
      g.points.reduce((s, p) => s + p[0], 0) / g.points.length,
      g.points.reduce((s, p) => s + p[1], 0) / g.points.length,
    ];
    const reach = Math.max(0, ...g.points.map((p) => metresBetween(centroid, p)));
    areas.push({
      name,
      lon: centroid[0],
      lat: centroid[1],
      radiusM: Math.max(MIN_RADIUS_M, reach + 400),
    });
  }
  return areas;
}

/**
 * The spelling most counted in `counts` (name → count); a tie goes to the first in code-point
 * order, as the API's `mode() … collate "C"` picks it, so the page and the API name it alike.
 */
export function mostSpelled(counts) {
  let best;
  for (const [name, n] of counts) {
    if (best === undefined || n > best.n || (n === best.n && name < best.name)) {
      best = { name, n };
    }
  }
  return best?.name;
}

/**
 * A name as the API's filters match it (the database's tickets.name_key): in any case and either
 * Unicode form (NFC or NFD), the white space around it ignored.
 */
export const nameKey = (name) => name.normalize("NFC").trim().toLowerCase();
