/**
 * fleettickets: drains a field-operations ticket change stream (CSV files in an S3 bucket) into
 * PostgreSQL/PostGIS or embedded PGlite, exactly once and oldest first.
 *
 * ```ts
 * import { createDirObjectStore, createPgliteDatabase, drain, INC, migrate } from "./mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * await migrate(db);
 * const report = await drain(createDirObjectStore("bucket"), db, { dataset: INC, apply: true });
 * console.log(report.status, report.totals);
 * await db.close();
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
  StoredObject,
} from "./lib/ports.ts";
export { systemClock } from "./lib/ports.ts";
export {
  CRQ,
  type Dataset,
  DATASETS,
  getDataset,
  INC,
  type PostApplyStep,
} from "./lib/datasets.ts";
export {
  type AfterApplyReport,
  drain,
  type DrainOptions,
  type DrainProgress,
  type DrainReport,
  type FileCounts,
  type FileReport,
} from "./lib/drain.ts";
export { ChangeFileError } from "./lib/change_file_error.ts";
export { ObjectStoreError } from "./lib/object_store_error.ts";
export {
  type ChangeLine,
  parseChangeFile,
  type ParseChangeFileOptions,
  type TicketRecord,
} from "./lib/parse_change_file.ts";
export { type ChangeKey, parseChangeFileName, parseChangeKey } from "./lib/change_key.ts";
export {
  loadMigrations,
  migrate,
  type Migration,
  type MigrationStatus,
  pendingMigrations,
} from "./lib/migrate.ts";
export { type Config, ConfigError, loadConfig } from "./lib/config.ts";
export { createDirObjectStore } from "./lib/dir_object_store.ts";
export { createS3ObjectStore, type S3ObjectStoreOptions } from "./lib/s3_object_store.ts";
export {
  createPgliteDatabase,
  DatabaseLockedError,
  type PgliteDatabaseOptions,
} from "./lib/pglite_database.ts";
export { createPostgresDatabase, type PostgresDatabaseOptions } from "./lib/postgres_database.ts";
export type { HttpGeocoderOptions } from "./lib/_http_geocoder.ts";
export { formatDrainReport } from "./lib/format_report.ts";
export {
  capture,
  type CaptureOptions,
  type CaptureReport,
  formatCaptureReport,
} from "./lib/capture.ts";
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
} from "./lib/run_report.ts";
export {
  CLUSTER_ALIASES,
  geocode,
  type GeocodeOptions,
  type GeocodeReport,
  resolveGeometry,
} from "./lib/geocode.ts";
export { GeocoderError } from "./lib/geocoder_error.ts";
export { createLocationIqGeocoder } from "./lib/locationiq_geocoder.ts";
export { createOpenCageGeocoder } from "./lib/opencage_geocoder.ts";
export { createNominatimGeocoder } from "./lib/nominatim_geocoder.ts";
export { exportGazetteer, importGazetteer, type ImportReport } from "./lib/gazetteer.ts";
export {
  type DatasetStatus,
  formatStatus,
  readStatus,
  type ReadStatusOptions,
  type StatusReport,
} from "./lib/read_status.ts";
export { recordRun, type RecordRunOptions } from "./lib/record_run.ts";
export { runAfterApply, type RunAfterApplyOptions } from "./lib/run_after_apply.ts";
export { createLogger, type Logger, type LoggerOptions } from "./lib/logger.ts";
