-- Tells a running `serve` that the data changed, so the data version it keeps in memory for
-- ETags is forgotten and its tags change: a change of a dataset's watermark, file count or apply
-- time, and any write to the tables serve reads that the ledger does not see (history captures,
-- geometry resolution, geocoding, gazetteer imports) notifies the channel
-- fleettickets_data_changed, delivered when the writer's transaction commits (never for one that
-- rolls back; one notification per table and transaction). `serve` also forgets the version after
-- SERVE_VERSION_TTL, for a lost notification. The channel name is DATA_CHANGED_CHANNEL in
-- serve/version_cache.ts.
create or replace function tickets.notify_data_changed() returns trigger
language plpgsql as $$
begin
  perform pg_notify('fleettickets_data_changed', tg_table_name);
  return null;
end
$$;

create or replace trigger import_meta_data_changed
  after insert or update of watermark, files_applied, last_applied_at or delete or truncate
  on tickets.import_meta
  for each statement execute function tickets.notify_data_changed();

-- Statement-level: once per statement whatever the number of rows.
create or replace trigger inc_data_changed
  after insert or update or delete or truncate on tickets.inc
  for each statement execute function tickets.notify_data_changed();

create or replace trigger crq_data_changed
  after insert or update or delete or truncate on tickets.crq
  for each statement execute function tickets.notify_data_changed();

create or replace trigger closure_events_data_changed
  after insert or truncate on tickets.closure_events
  for each statement execute function tickets.notify_data_changed();

create or replace trigger inc_daily_snapshot_data_changed
  after insert or update or delete or truncate on tickets.inc_daily_snapshot
  for each statement execute function tickets.notify_data_changed();
