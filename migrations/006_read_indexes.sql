-- Indexes for the read API (`serve`): bounding-box filters on geom, and the case-insensitive
-- cluster and team filters (the dashboard's matching rule: lower(x) = lower(filter)).
create index inc_geom_idx on tickets.inc using gist (geom);
create index crq_geom_idx on tickets.crq using gist (geom);
create index inc_cluster_lower_idx on tickets.inc (lower(cluster));
create index crq_cluster_lower_idx on tickets.crq (lower(cluster));
create index inc_team_lower_idx on tickets.inc (lower(assigned_team));
create index crq_team_lower_idx on tickets.crq (lower(assigned_team));
create index closure_events_ticket_idx on tickets.closure_events (ticket_id, closed_at);
