-- Places the tickets of every file of a dataset not yet placed (tickets.applied_files.placed_at
-- is NULL, migration 011): those the current run applied and any an earlier run left unplaced
-- (stopped after a file's commit, or its geometry step failed), then marks exactly those ledger
-- rows. One call, one transaction: a failure marks nothing, and the next run tries them again.
-- A file applied again meanwhile (a new applied_at) stays unmarked for the next run. Returns
-- the number of tickets whose geometry changed.
create or replace function tickets.resolve_applied_geometry(p_dataset text, p_table regclass)
returns integer
language plpgsql as $$
declare
  v_files text[];
  v_applied timestamptz[];
  n integer;
begin
  select coalesce(array_agg(file_name), '{}'), coalesce(array_agg(applied_at), '{}')
  into v_files, v_applied
  from tickets.applied_files where dataset = p_dataset and placed_at is null;
  if cardinality(v_files) = 0 then
    return 0;
  end if;
  n := tickets.resolve_geometry(p_table, v_files);
  update tickets.applied_files f set placed_at = now()
  from unnest(v_files, v_applied) as r(file_name, applied_at)
  where f.dataset = p_dataset and f.file_name = r.file_name and f.applied_at = r.applied_at
    and f.placed_at is null;
  return n;
end
$$;
