import assert from "node:assert/strict";
import { getAllTickets } from "./api.js";

type Page = { status: number; body: unknown };

/** Replaces fetch with `answer` (path → page) for the length of `fn`; returns the paths asked. */
async function withFetch(answer: (path: string) => Page, fn: () => Promise<void>) {
  const asked: string[] = [];
  const real = globalThis.fetch;
  globalThis.fetch = (input: string | URL | Request) => {
    const path = String(input);
    asked.push(path);
    const { status, body } = answer(path);
    return Promise.resolve(Response.json(body, { status }));
  };
  try {
    await fn();
  } finally {
    globalThis.fetch = real;
  }
  return asked;
}

const feature = (id: string) => ({ type: "Feature", properties: { ticket_id: id } });
const page = (ids: string[], next: string | null) => ({
  status: 200,
  body: { type: "FeatureCollection", features: ids.map(feature), next },
});

Deno.test("getAllTickets() starts again when the data changed between its pages (409)", async () => {
  let changed = false;
  const asked = await withFetch((path) => {
    if (path === "api/tickets?limit=2") {
      return changed
        ? page(["A", "B"], "/api/tickets?limit=2&offset=2&version=v2")
        : page(["B", "C"], "/api/tickets?limit=2&offset=2&version=v1");
    }
    if (path.endsWith("version=v1")) {
      changed = true; // a change file was applied after the first page was read
      return {
        status: 409,
        body: { status: 409, detail: "the data changed", parameter: "version" },
      };
    }
    return page(["C"], null);
  }, async () => {
    const { data } = await getAllTickets("api/tickets?limit=2");
    const ids = data.features.map((f: { properties: { ticket_id: string } }) =>
      f.properties.ticket_id
    );
    assert.deepEqual(ids, ["A", "B", "C"]); // before: B, C and then C's page again, A missing
  });
  assert.deepEqual(asked, [
    "api/tickets?limit=2",
    "api/tickets?limit=2&offset=2&version=v1",
    "api/tickets?limit=2",
    "api/tickets?limit=2&offset=2&version=v2",
  ]);
});

Deno.test("getAllTickets() gives up after 3 starts while the data keeps changing", async () => {
  let round = 0;
  const asked = await withFetch(
    (path) =>
      path.includes("offset")
        ? { status: 409, body: { status: 409, detail: "the data changed", parameter: "version" } }
        : page([`T${round++}`], `/api/tickets?limit=1&offset=1&version=v${round}`),
    async () => {
      await assert.rejects(getAllTickets("api/tickets?limit=1"), { status: 409 });
    },
  );
  assert.equal(asked.length, 6);
});
