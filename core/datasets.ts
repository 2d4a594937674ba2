/**
 * Dataset definitions: a dataset is configuration (name, table, prefixes, post-apply steps),
 * not a code fork. Every dataset runs through the same drain engine.
 *
 * @module
 */

/** A step run after a dataset's files are applied. */
export type PostApplyStep = "resolve_geometry" | "capture_history";

/** One change stream and the table it lands in. */
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

/** Incidents / customer faults. */
export const INC: Dataset = {
  name: "inc",
  table: "tickets.inc",
  changesPrefix: "automations/inc/changes/",
  processedPrefix: "automations/inc/processed/",
  afterApply: ["resolve_geometry", "capture_history"],
};

/** New-installation requests: data layer and map only (no SLA view, dashboard or history). */
export const CRQ: Dataset = {
  name: "crq",
  table: "tickets.crq",
  changesPrefix: "automations/crq/changes/",
  processedPrefix: "automations/crq/processed/",
  afterApply: ["resolve_geometry"],
};

/** Every known dataset, by name, in the order `--dataset all` runs them. */
export const DATASETS: Readonly<Record<string, Dataset>> = { inc: INC, crq: CRQ };

/** Looks a dataset up by name; throws a RangeError naming the valid ones. */
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
