/**
 * `/api/health`: can the database be reached, and per dataset the watermark, when a file was
 * last applied, and whether that is recent enough.
 *
 * @module
 */

import { type DataVersion, readDataVersion } from "./data_version.ts";
import { parseChangeFileName } from "./change_key.ts";
import type { SqlSession } from "./ports/mod.ts";

/** One dataset's health. */
export interface DatasetHealth {
  dataset: string;
  watermark: string | null;
  lastAppliedAt: string | null;
  /** The newest applied file is at most `staleAfterHours` old. */
  healthy: boolean;
}

/** Reads the health of every dataset that has applied state. */
export async function readHealth(
  tx: SqlSession,
  staleAfterHours: number,
  now: Date = new Date(),
): Promise<DatasetHealth[]> {
  return healthOf(await readDataVersion(tx), staleAfterHours, now);
}

/** Health from an already read {@linkcode DataVersion}. */
export function healthOf(
  version: DataVersion,
  staleAfterHours: number,
  now: Date = new Date(),
): DatasetHealth[] {
  return version.datasets.map((d) => {
    const at = d.watermark === null ? null : parseChangeFileName(d.watermark);
    return {
      dataset: d.dataset,
      watermark: d.watermark,
      lastAppliedAt: d.lastAppliedAt,
      healthy: at !== null && now.getTime() - at.getTime() <= staleAfterHours * 3600_000,
    };
  });
}
