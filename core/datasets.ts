/**
 * Dataset definitions: a dataset is configuration (name, table, prefixes, post-apply steps),
 * not a code fork. Every dataset runs through the same drain engine.
 *
 * @module
 */

/** A step run after a dataset's files are applied. */
export type PostApplyStep = "resolve_geometry" | "capture_history";

/**
 * One change stream and the table it lands in.
 *
 * @example A dataset is configuration
 * ```ts
 * import { type Dataset, INC } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * // The same stream in a staging bucket: only the prefixes differ.
 * const staging: Dataset = {
 *   ...INC,
 *   changesPrefix: "staging/inc/changes/",
 *   processedPrefix: "staging/inc/processed/",
 * };
 * assert.equal(staging.table, "tickets.inc");
 * ```
 */
export interface Dataset {
  /** Short name used in CLI flags, reports and the ledger. */
  name: string;
  /** Target table, schema-qualified. */
  table: string;
  /** Where new change files arrive. */
  changesPrefix: string;
  /** Where applied change files are moved. */
  processedPrefix: string;
  /** Steps run after every applying run, in order. */
  afterApply: readonly PostApplyStep[];
}

/**
 * Incidents / customer faults.
 *
 * @example Usage
 * ```ts
 * import { INC, parseChangeKey } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(INC.table, "tickets.inc");
 * assert.ok(parseChangeKey(`${INC.changesPrefix}2026-06-15T17-00-00.csv`, INC.changesPrefix));
 * ```
 */
export const INC: Dataset = {
  name: "inc",
  table: "tickets.inc",
  changesPrefix: "automations/inc/changes/",
  processedPrefix: "automations/inc/processed/",
  afterApply: ["resolve_geometry", "capture_history"],
};

/**
 * New-installation requests: data layer and map only (no SLA view, dashboard or history).
 *
 * @example Usage
 * ```ts
 * import { CRQ } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(CRQ.changesPrefix, "automations/crq/changes/");
 * assert.deepEqual(CRQ.afterApply, ["resolve_geometry"]); // no history capture
 * ```
 */
export const CRQ: Dataset = {
  name: "crq",
  table: "tickets.crq",
  changesPrefix: "automations/crq/changes/",
  processedPrefix: "automations/crq/processed/",
  afterApply: ["resolve_geometry"],
};

/**
 * Every known dataset, by name, in the order `--dataset all` runs them.
 *
 * @example Usage
 * ```ts
 * import { DATASETS } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(Object.keys(DATASETS), ["inc", "crq"]);
 * ```
 */
export const DATASETS: Readonly<Record<string, Dataset>> = { inc: INC, crq: CRQ };

/**
 * Looks a dataset up by name; throws a RangeError naming the valid ones.
 *
 * @example Usage
 * ```ts
 * import { getDataset, INC } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(getDataset("inc"), INC);
 * assert.throws(() => getDataset("tt"), {
 *   name: "RangeError",
 *   message: 'Cannot find dataset "tt": expected one of "inc", "crq"',
 * });
 * ```
 */
export function getDataset(name: string): Dataset {
  const dataset = DATASETS[name];
  if (dataset === undefined) {
    throw new RangeError(
      `Cannot find dataset "${name}": expected one of ${
        Object.keys(DATASETS).map((n) => `"${n}"`).join(", ")
      }`,
    );
  }
  return dataset;
}
