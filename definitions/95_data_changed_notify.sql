-- Tells a running `serve` that the data changed, so the data version it keeps in memory for
-- ETags is forgotten: a change of a dataset's watermark, file count or apply time notifies
-- the channel fleettickets_data_changed, delivered when the drain's transaction commits (never
-- for one that rolls back). `serve` also forgets the version after SERVE_VERSION_TTL, for a
-- lost notification. The channel name is DATA_CHANGED_CHANNEL in serve/version_cache.ts.
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
