-- One row per applying run of a dataset (start, end, outcome, counts, error), for `status`
-- and for whoever asks "did the 14:20 run work?". Errors are stored redacted.
create table tickets.runs (
  id bigint generated always as identity primary key,
  dataset text not null,
  started_at timestamptz not null,
  finished_at timestamptz not null,
  status text not null check (status in ('ok', 'failed', 'locked', 'interrupted')),
  reseed boolean not null default false,
  source text not null,
  files_applied integer not null default 0,
  files_archived integer not null default 0,
  totals jsonb not null default '{}',
  error text,
  transient boolean
);

create index runs_dataset_finished_idx on tickets.runs (dataset, finished_at desc);
