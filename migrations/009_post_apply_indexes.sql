-- Indexes for the steps after an ingest, which should cost what the run wrote, not the table.
-- Geometry resolution (tickets.resolve_geometry) re-resolves only the rows the run's files wrote:
-- `source_file = any(files)`. Without an index that was a scan of the whole table after every
-- delta (2,670 pages of the 21k-ticket baseline, 55-90 ms in the fresh session each run is) to
-- find ~400 rows.
create index inc_source_file_idx on tickets.inc (source_file);
create index crq_source_file_idx on tickets.crq (source_file);
-- The history capture appends to closure_events, whose primary key is (ticket_id, closed_at):
-- migration 006 indexed the same pair again, a second copy of the key that every appended
-- closure paid for (18k at a first capture). The primary key serves the capture's anti-join.
drop index tickets.closure_events_ticket_idx;
