/**
 * fleettickets: drains a field-operations ticket change stream (CSV files in an S3 bucket) into
 * PostgreSQL/PostGIS or embedded PGlite, exactly once and oldest first.
 *
 * @example Drain a folder bucket into an embedded database
 * ```ts
 * import { createDirObjectStore, createPgliteDatabase, DATASETS, ingest, migrate } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * // A folder that mirrors the bucket root, holding one change file.
 * const bucket = await Deno.makeTempDir();
 * await Deno.mkdir(`${bucket}/automations/inc/changes`, { recursive: true });
 * await Deno.writeTextFile(
 *   `${bucket}/automations/inc/changes/2026-06-15T17-00-00.csv`,
 *   "ticket_id,service_type,raw_status,region\r\nWOT0000001,inc,In Progress,Nairobi\r\n",
 * );
 *
 * const db = await createPgliteDatabase(); // in memory; { dataDir: ".data/pglite" } persists
 * await migrate(db);
 * const [inc, crq] = await ingest(createDirObjectStore(bucket), db, {
 *   datasets: Object.values(DATASETS),
 *   apply: true,
 * });
 * assert.equal(inc?.status, "ok");
 * assert.equal(inc?.totals.inserted, 1);
 * assert.equal(crq?.files.length, 0);
 * await db.close();
 * await Deno.remove(bucket, { recursive: true });
 * ```
 *
 * @module
 */

export type {
  Clock,
  Database,
  GeocodeAnswer,
  GeocodeQuery,
  Geocoder,
  ObjectStore,
  Row,
  SqlSession,
  StatementResult,
  StoredObject,
} from "./core/ports/mod.ts";
export { systemClock } from "./core/ports/mod.ts";
export {
  CRQ,
  type Dataset,
  DATASETS,
  getDataset,
  INC,
  type PostApplyStep,
} from "./core/datasets.ts";
export {
  csvFoldersElsewhere,
  type Elsewhere,
  findCsvElsewhere,
  lookElsewhere,
  quoteCsvFolders,
} from "./core/csv_elsewhere.ts";
export {
  drain,
  type DrainOptions,
  type DrainProgress,
  type DrainReport,
  type FileCounts,
  type FileReport,
  type ReplacedVersion,
} from "./core/drain.ts";
export { ChangeFileError } from "./core/change_file_error.ts";
export { ObjectStoreError } from "./core/ports/mod.ts";
export {
  type ChangeLine,
  parseChangeFile,
  type ParseChangeFileOptions,
  type TicketRecord,
} from "./core/parse_change_file.ts";
export {
  type Utf8ReplacementCounter,
  type Utf8Replacements,
  utf8Replacements,
} from "./core/utf8_replacements.ts";
export { type ChangeKey, parseChangeFileName, parseChangeKey } from "./core/change_key.ts";
export {
  EditedMigrationError,
  loadDefinitions,
  loadMigrations,
  migrate,
  type Migration,
  type MigrationStatus,
  NewerSchemaError,
  pendingMigrations,
  SchemaRefusedError,
} from "./core/migrate.ts";
export { type Config, ConfigError, loadConfig } from "./app/config.ts";
export { createDirObjectStore } from "./adapters/dir_object_store.ts";
export { createS3ObjectStore, type S3ObjectStoreOptions } from "./adapters/s3_object_store.ts";
export {
  createPgliteDatabase,
  DatabaseLockedError,
  type PgliteDatabaseOptions,
} from "./adapters/pglite_database.ts";
export {
  createPostgresDatabase,
  type PostgresDatabaseOptions,
} from "./adapters/postgres_database.ts";
export type { HttpGeocoderOptions } from "./adapters/_http_geocoder.ts";
export { formatDrainReport } from "./cli/format_report.ts";
export {
  capture,
  type CaptureOptions,
  type CaptureReport,
  formatCaptureReport,
} from "./core/capture.ts";
export {
  type BacklogDay,
  buildReport,
  type BuildReportOptions,
  type ClosureDay,
  type ClusterBacklog,
  formatReport,
  type Freshness,
  type OpenTicket,
  type SlaSplit,
  type TicketReport,
} from "./core/run_report.ts";
export {
  CLUSTER_ALIASES,
  geocode,
  type GeocodeOptions,
  type GeocodeReport,
  resolveAppliedGeometry,
  resolveGeometry,
} from "./core/geocode.ts";
export { GeocoderError } from "./core/ports/mod.ts";
export { createLocationIqGeocoder } from "./adapters/locationiq_geocoder.ts";
export { createOpenCageGeocoder } from "./adapters/opencage_geocoder.ts";
export { createNominatimGeocoder } from "./adapters/nominatim_geocoder.ts";
export {
  exportGazetteer,
  importGazetteer,
  type ImportOptions,
  type ImportReport,
} from "./core/gazetteer.ts";
export {
  type DatasetStatus,
  formatStatus,
  readStatus,
  type ReadStatusOptions,
  type StatusReport,
} from "./core/read_status.ts";
export { beginRun, recordRun, type RecordRunOptions, type RunStart } from "./core/record_run.ts";
export { type AfterApplyReport, runAfterApply } from "./core/run_after_apply.ts";
export { ingest, type IngestOptions, type IngestReport } from "./core/ingest.ts";
export { createLogger, type Logger, type LoggerOptions } from "./cli/logger.ts";
