import assert from "node:assert/strict";
import { parseChangeFileName, parseChangeKey } from "./change_key.ts";

const PREFIX = "automations/inc/changes/";

Deno.test("parseChangeFileName() reads the name as East Africa Time (UTC+3)", () => {
  assert.equal(
    parseChangeFileName("2026-06-15T17-00-00.csv")?.toISOString(),
    "2026-06-15T14:00:00.000Z",
  );
  assert.equal(
    parseChangeFileName("2026-06-15T09-41-07.csv")?.toISOString(),
    "2026-06-15T06:41:07.000Z",
  );
});

Deno.test("parseChangeFileName() moves an early-morning name to the previous UTC day", () => {
  assert.equal(
    parseChangeFileName("2026-01-01T00-30-00.csv")?.toISOString(),
    "2025-12-31T21:30:00.000Z",
  );
  assert.equal(
    parseChangeFileName("2026-03-01T02-59-59.csv")?.toISOString(),
    "2026-02-28T23:59:59.000Z",
  );
});

Deno.test("parseChangeFileName() accepts 29 February in a leap year only", () => {
  assert.equal(
    parseChangeFileName("2028-02-29T10-00-00.csv")?.toISOString(),
    "2028-02-29T07:00:00.000Z",
  );
  assert.equal(parseChangeFileName("2026-02-29T10-00-00.csv"), null);
});

Deno.test("parseChangeFileName() rejects impossible dates and times", () => {
  for (
    const name of [
      "2026-02-30T10-00-00.csv",
      "2026-04-31T10-00-00.csv",
      "2026-13-01T10-00-00.csv",
      "2026-00-10T10-00-00.csv",
      "2026-06-00T10-00-00.csv",
      "2026-06-15T24-00-00.csv",
      "2026-06-15T10-60-00.csv",
      "2026-06-15T10-00-60.csv",
    ]
  ) {
    assert.equal(parseChangeFileName(name), null, name);
  }
});

Deno.test("parseChangeFileName() rejects names that only look like change files", () => {
  for (
    const name of [
      "2026-06-15T17-00-00.csv.tmp",
      "2026-06-15T17-00-00.csv.part",
      "2026-06-15T17-00-00.CSV",
      "2026-06-15T17-00-00.txt",
      "2026-06-15 17-00-00.csv",
      "2026-06-15T17:00:00.csv",
      "2026-06-15T17-00.csv",
      "2026-6-15T17-00-00.csv",
      ".2026-06-15T17-00-00.csv",
      "x2026-06-15T17-00-00.csv",
      "2026-06-15T17-00-00.csv\n",
      "",
    ]
  ) {
    assert.equal(parseChangeFileName(name), null, JSON.stringify(name));
  }
});

Deno.test("parseChangeKey() returns the key, its file name and the export time", () => {
  const key = `${PREFIX}2026-06-15T17-00-00.csv`;
  assert.deepEqual(parseChangeKey(key, PREFIX), {
    key,
    fileName: "2026-06-15T17-00-00.csv",
    exportedAt: new Date("2026-06-15T14:00:00Z"),
  });
});

Deno.test("parseChangeKey() ignores keys in sub-folders of the prefix", () => {
  assert.equal(parseChangeKey(`${PREFIX}sub/2026-06-15T17-00-00.csv`, PREFIX), null);
  assert.equal(parseChangeKey(`${PREFIX}2026/2026-06-15T17-00-00.csv`, PREFIX), null);
});

Deno.test("parseChangeKey() ignores keys outside the prefix", () => {
  for (
    const key of [
      "automations/inc/processed/2026-06-15T17-00-00.csv",
      "automations/crq/changes/2026-06-15T17-00-00.csv",
      "2026-06-15T17-00-00.csv",
      "other/automations/inc/changes/2026-06-15T17-00-00.csv",
    ]
  ) {
    assert.equal(parseChangeKey(key, PREFIX), null, key);
  }
});

Deno.test("parseChangeKey() ignores temp files and impossible dates under the prefix", () => {
  assert.equal(parseChangeKey(`${PREFIX}2026-06-15T17-00-00.csv.tmp`, PREFIX), null);
  assert.equal(parseChangeKey(`${PREFIX}2026-02-30T10-00-00.csv`, PREFIX), null);
  assert.equal(parseChangeKey(PREFIX, PREFIX), null);
});

Deno.test("parseChangeKey() file names sort in export-time order", () => {
  const names = [
    "2026-06-15T17-00-00.csv",
    "2026-06-15T09-00-00.csv",
    "2025-12-31T23-59-59.csv",
    "2026-06-15T10-00-00.csv",
  ];
  const keys = names.map((n) => parseChangeKey(PREFIX + n, PREFIX)!);
  const byName = [...keys].sort((a, b) => a.fileName < b.fileName ? -1 : 1);
  const byTime = [...keys].sort((a, b) => a.exportedAt.getTime() - b.exportedAt.getTime());
  assert.deepEqual(byName, byTime);
});
