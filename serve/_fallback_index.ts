// The page at / while web/ has no index.html (the map page replaces it). A module rather than a
// file so a compiled binary carries it.

/** The built-in index page. */
export const FALLBACK_INDEX = `<!doctype html>
<html lang="en" style="font: 16px/1.5 system-ui,sans-serif">
  <meta charset="utf-8">
  <title>fleettickets</title>
  <!-- Styles as attributes: the page's Content-Security-Policy blocks a style element. -->
  <body style="max-width: 44rem; margin: 2rem auto; padding: 0 1rem">
  <h1>fleettickets read API</h1>
  <p>The map page is served here at <code>/</code> once <code>web/index.html</code> exists. Until
then, the API answers at:</p>
  <ul>
    <li><code>GET /api/tickets?dataset=inc&amp;open_only=true&amp;bbox=…</code> (GeoJSON) and <code>/api/tickets.csv</code></li>
    <li><code>GET /api/tickets/{id}</code></li>
    <li><code>GET /api/nearest?lon=36.82&amp;lat=-1.29&amp;k=10&amp;rank=urgency</code></li>
    <li><code>GET /api/dashboard?window=7d</code>, <code>GET|POST /webhook/inc-dashboard</code></li>
    <li><code>GET /webhook/tickets?open_only=true</code></li>
    <li><code>GET /api/backlog?from=…&amp;to=…</code>, <code>GET /api/teams?window=30d&amp;by=team</code></li>
    <li><code>GET /api/health</code>, <code>GET /api/config</code></li>
  </ul>
  </body>
</html>
`;
