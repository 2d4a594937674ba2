-- Freshness of one dataset as of p_now: the newest applied change file (its name is its EAT
-- export time), when the drain last applied a file and last ran, and the content lag (p_now -
-- newest source updated_at; ~2 days is normal, file_age_hours growing means the export stalled).
-- An update time dated ahead of p_now (tickets.dated_ahead: a row dated 2099) is not counted in
-- the lag, which it would hold negative for good; future_updates counts them.
create or replace function tickets.freshness(p_dataset text, p_now timestamptz default now())
returns jsonb language plpgsql stable as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_meta tickets.import_meta;
  v_newest timestamptz;
  v_future int;
  v_file_time timestamptz;
begin
  case p_dataset
    when 'inc' then
      select max(source_updated_at) filter (where not tickets.dated_ahead(source_updated_at, v_now)),
             count(*) filter (where tickets.dated_ahead(source_updated_at, v_now))
      into v_newest, v_future from tickets.inc;
    when 'crq' then
      select max(source_updated_at) filter (where not tickets.dated_ahead(source_updated_at, v_now)),
             count(*) filter (where tickets.dated_ahead(source_updated_at, v_now))
      into v_newest, v_future from tickets.crq;
    else raise exception 'Unknown dataset "%": use inc or crq', p_dataset using errcode = '22023';
  end case;
  select * into v_meta from tickets.import_meta where dataset = p_dataset;
  -- 2026-06-15T17-00-00.csv -> 2026-06-15 17:00:00 (EAT); anything else reads as NULL.
  v_file_time := tickets.eat_ts(
    left(v_meta.watermark, 10) || ' ' || replace(substr(v_meta.watermark, 12, 8), '-', ':')
  );
  return jsonb_build_object(
    'dataset', p_dataset,
    'newest_file', v_meta.watermark,
    'newest_file_time', tickets.eat_iso(v_file_time),
    'file_age_hours', round(extract(epoch from v_now - v_file_time) / 3600, 1),
    'files_applied', coalesce(v_meta.files_applied, 0),
    'last_applied_at', tickets.eat_iso(v_meta.last_applied_at),
    'last_run_at', tickets.eat_iso(v_meta.last_run_at),
    'newest_source_updated_at', tickets.eat_iso(v_newest),
    'content_lag_hours', round(extract(epoch from v_now - v_newest) / 3600, 1),
    'future_updates', v_future
  );
end
$$;
