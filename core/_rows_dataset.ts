// Which dataset a change file's tickets say they belong to (their `service_type`), so that a file
// put in another dataset's folder is refused before its merge: a CRQ export copied into
// automations/inc/changes/ was applied into tickets.inc as incidents, exit 0 (a tester's). Both
// ways of staging count alike: the JavaScript parser's tickets here, the COPY way's in SQL with
// serviceTypeSql. Private to core/.

import { ChangeFileError } from "./change_file_error.ts";
import { type Dataset, DATASETS } from "./datasets.ts";

/** How many of a file's tickets name each dataset in `service_type` (other values not counted). */
export type ServiceTypeTally = Record<string, number>;

/** The dataset names a `service_type` is compared with, in order (the COPY way's parameters). */
export const DATASET_NAMES: readonly string[] = Object.keys(DATASETS);

/** Counts one ticket's `service_type`: spaces around it and its case do not matter. */
export function tallyServiceType(tally: ServiceTypeTally, value: string | null | undefined): void {
  // ASCII letters alone, as the SQL's "C" lowercasing: no other character can match a name.
  const name = value == null ? undefined : /^ *([A-Za-z]+) *$/.exec(value)?.[1]?.toLowerCase();
  if (name !== undefined && DATASET_NAMES.includes(name)) tally[name] = (tally[name] ?? 0) + 1;
}

/**
 * The SQL of one `service_type` cell as tallyServiceType compares it (spaces trimmed, ASCII
 * lowercased whatever the database's locale); the dataset names then come as parameters.
 */
export function serviceTypeSql(column: string): string {
  return `lower(btrim(${column}, ' ') collate "C")`;
}

/**
 * Refuses a file whose tickets name another dataset and none this one. A file mixing both, or
 * whose tickets say nothing, is applied as before.
 */
export function checkRowsDataset(key: string, dataset: Dataset, tally: ServiceTypeTally): void {
  if ((tally[dataset.name] ?? 0) > 0) return;
  const other = Object.values(DATASETS).find((d) => (tally[d.name] ?? 0) > 0);
  if (other === undefined) return;
  const n = tally[other.name]!;
  const say = n === 1 ? "ticket says" : "tickets say";
  throw new ChangeFileError(
    key,
    `its ${n} ${say} service_type "${other.name}" and none "${dataset.name}": it is a ` +
      `${other.name.toUpperCase()} file, to apply as ${other.name.toUpperCase()} (its folder is ` +
      `"${other.changesPrefix}"); nothing of it was applied`,
  );
}
