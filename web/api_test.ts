import assert from "node:assert/strict";
import { getAllTickets } from "./api.js";

const feature = (id: string) => ({ type: "Feature", properties: { ticket_id: id } });

Deno.test("getAllTickets() follows next links to the last page, in order", async () => {
  const pages: Record<string, { ids: string[]; next: string | null }> = {
    "api/tickets?limit=2": { ids: ["A", "B"], next: "/api/tickets?limit=2&after=inc:B" },
    "api/tickets?limit=2&after=inc:B": {
      ids: ["C", "D"],
      next: "/api/tickets?limit=2&after=inc:D",
    },
    "api/tickets?limit=2&after=inc:D": { ids: ["E"], next: null },
  };
  const asked: string[] = [];
  const real = globalThis.fetch;
  globalThis.fetch = (input: string | URL | Request) => {
    const path = String(input);
    asked.push(path);
    const page = pages[path]!;
    return Promise.resolve(
      Response.json({
        type: "FeatureCollection",
        features: page.ids.map(feature),
        next: page.next,
      }),
    );
  };
  try {
    const { data } = await getAllTickets("api/tickets?limit=2");
    const ids = data.features.map((f: { properties: { ticket_id: string } }) =>
      f.properties.ticket_id
    );
    assert.deepEqual(ids, ["A", "B", "C", "D", "E"]);
    assert.equal(data.numberReturned, 5); // the pages', not the first's (the unplaced note used it)
    assert.deepEqual(asked, Object.keys(pages));
  } finally {
    globalThis.fetch = real;
  }
});
