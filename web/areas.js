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

/** Areas `{name, lat, lon, radiusM}` from ticket features (any filter: pass all of them). */
export function clusterAreas(features) {
  const groups = new Map();
  for (const f of features) {
    const name = f.properties.cluster;
    if (!name || !f.geometry) continue;
    const g = groups.get(name) ?? { centroid: null, points: [] };
    if (f.properties.geo_source === "cluster") g.centroid = f.geometry.coordinates;
    else g.points.push(f.geometry.coordinates);
    groups.set(name, g);
  }
  const areas = [];
  for (const [name, g] of groups) {
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
