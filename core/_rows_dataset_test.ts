import assert from "node:assert/strict";
import { checkRowsDataset, type ServiceTypeTally, tallyServiceType } from "./_rows_dataset.ts";
import { CRQ, INC } from "./datasets.ts";

const KEY = "automations/inc/changes/2026-06-15T06-10-00.csv";

function tally(values: (string | null)[]): ServiceTypeTally {
  const counts: ServiceTypeTally = {};
  for (const value of values) tallyServiceType(counts, value);
  return counts;
}

Deno.test("service_type is counted per dataset whatever its case and the spaces around it", () => {
  assert.deepEqual(tally(["crq", " CRQ ", "Inc", null, "", "crq2", "in c", "other"]), {
    crq: 2,
    inc: 1,
  });
  // Only ASCII letters can name a dataset, as in SQL's "C" lowercasing (the COPY way).
  assert.deepEqual(tally(["\u0130nc", "cr\u212Aq", "\tcrq"]), {});
});

Deno.test("a file whose tickets name only another dataset is refused, naming where it belongs", () => {
  assert.throws(
    () => checkRowsDataset(KEY, INC, tally(["crq", "crq", null])),
    {
      name: "ChangeFileError",
      message: `Cannot apply change file "${KEY}": its 2 tickets say service_type "crq" and ` +
        `none "inc": it is a CRQ file, to apply as CRQ (its folder is "automations/crq/changes/"); ` +
        "nothing of it was applied",
    },
  );
  assert.throws(() => checkRowsDataset(KEY, CRQ, tally(["inc"])), /its 1 ticket says/);
});

Deno.test("a file naming its own dataset, both, or none is applied", () => {
  checkRowsDataset(KEY, INC, tally(["inc"]));
  checkRowsDataset(KEY, INC, tally(["crq", "inc"]));
  checkRowsDataset(KEY, INC, tally([null, "", "other"]));
  checkRowsDataset(KEY, CRQ, tally([]));
});
