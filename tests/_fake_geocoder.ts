// A fake geocoding provider on loopback that answers in LocationIQ, OpenCage and Nominatim
// shapes and status codes, counts calls, and can be told to throttle or refuse. Private to tests/.

/** Controls and records of the fake provider. */
export interface FakeGeocoder {
  baseUrl: string;
  /** Every request's query text, in order. */
  queries: string[];
  /** Every request's User-Agent, in order. */
  userAgents: string[];
  /** Full request URLs (to check parameters). */
  urls: URL[];
  /** Answer 429 (per-second throttling) to the next N requests. */
  throttleNext: number;
  /** Answer LocationIQ's 429 "Rate Limited Minute" to the next N requests. */
  throttleMinuteNext: number;
  /** Answer this status to every request (401, 402, 403, 429 "day"…); 0 = normal. */
  failWith: number;
  /** Answer `failWith` (LocationIQ) only to queries this matches; null = to every request. */
  failOnly: RegExp | null;
  /** Milliseconds to wait before each answer. */
  delayMs: number;
  close(): Promise<void>;
}

/** Starts the fake; `answer` maps query text to a point, or null for "not found". */
export function startFakeGeocoder(
  answer: (text: string) => { lat: number; lon: number } | null,
  options: { key?: string } = {},
): FakeGeocoder {
  const key = options.key ?? "good-key";
  const fake: FakeGeocoder = {
    baseUrl: "",
    queries: [],
    userAgents: [],
    urls: [],
    throttleNext: 0,
    throttleMinuteNext: 0,
    failWith: 0,
    failOnly: null,
    delayMs: 0,
    close: () => server.shutdown(),
  };
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    const q = url.searchParams.get("q") ?? "";
    fake.queries.push(q);
    fake.urls.push(url);
    fake.userAgents.push(request.headers.get("user-agent") ?? "");
    if (fake.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, fake.delayMs));
    const point = answer(q);
    if (url.pathname === "/v1/search") { // LocationIQ
      if (url.searchParams.get("key") !== key) return json(401, { error: "Invalid key" });
      const fail = (fake.failOnly?.test(q) ?? true) ? fake.failWith : 0;
      if (fail === 429) return json(429, { error: "Rate Limited Day" });
      if (fail) return json(fail, { error: "Access restricted" });
      if (fake.throttleMinuteNext > 0) {
        fake.throttleMinuteNext--;
        return json(429, { error: "Rate Limited Minute" });
      }
      if (fake.throttleNext > 0) {
        fake.throttleNext--;
        return json(429, { error: "Rate Limited Second" });
      }
      if (!point) return json(404, { error: "Unable to geocode" });
      return json(200, [{
        place_id: "1",
        lat: String(point.lat),
        lon: String(point.lon),
        display_name: `${q} (fake)`,
        class: "place",
        type: "suburb",
        importance: 0.5,
      }]);
    }
    if (url.pathname === "/geocode/v1/json") { // OpenCage
      const envelope = (code: number, message: string, results: unknown[]) =>
        json(code, { results, status: { code, message }, total_results: results.length });
      if (url.searchParams.get("key") !== key) return envelope(401, "invalid API key", []);
      if (fake.failWith === 402) return envelope(402, "quota exceeded", []);
      if (fake.failWith) return envelope(fake.failWith, "suspended", []);
      if (fake.throttleNext > 0) {
        fake.throttleNext--;
        return envelope(429, "Too Many Requests", []);
      }
      return envelope(
        200,
        "OK",
        point
          ? [{
            geometry: { lat: point.lat, lng: point.lon },
            formatted: `${q} (fake)`,
            confidence: 7,
          }]
          : [],
      );
    }
    if (url.pathname === "/search") { // Nominatim: HTML errors, [] for nothing found
      if (!request.headers.get("user-agent")?.startsWith("fleettickets/")) {
        return new Response("<html>Access blocked</html>", { status: 403 });
      }
      if (fake.throttleNext > 0) {
        fake.throttleNext--;
        return new Response("<html>Too many requests</html>", { status: 429 });
      }
      return json(
        200,
        point
          ? [{
            lat: String(point.lat),
            lon: String(point.lon),
            display_name: `${q} (fake)`,
            place_rank: 20,
          }]
          : [],
      );
    }
    return new Response("not found", { status: 404 });
  });
  fake.baseUrl = `http://127.0.0.1:${server.addr.port}`;
  return fake;
}
