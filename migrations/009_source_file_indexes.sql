-- Indexes for geometry resolution after an ingest (tickets.resolve_geometry), which re-resolves
-- only the rows the run's files wrote: `source_file = any(files)`. Without an index that was a
-- scan of the whole table after every delta (2,670 pages of the 21k-ticket baseline, 55-90 ms in
-- the fresh session each run is) to find ~400 rows; with it, the rows the files wrote.
create index inc_source_file_idx on tickets.inc (source_file);
create index crq_source_file_idx on tickets.crq (source_file);
