-- The cluster and team filters match a name in any case and without the spaces around it
-- (lower(btrim(x)) = lower(filter)), as fn_team_performance and report group names: a row's
-- figures come back when filtered by its name (before, lower(x) alone: " Westlands" could not be
-- chosen, as a filter value comes trimmed). The indexes follow the rule, replacing migration
-- 006's lower(x) ones (as many indexes as before: a change file's merge writes each).
drop index tickets.inc_cluster_lower_idx;
drop index tickets.crq_cluster_lower_idx;
drop index tickets.inc_team_lower_idx;
drop index tickets.crq_team_lower_idx;
create index inc_cluster_key_idx on tickets.inc (lower(btrim(cluster)));
create index crq_cluster_key_idx on tickets.crq (lower(btrim(cluster)));
create index inc_team_key_idx on tickets.inc (lower(btrim(assigned_team)));
create index crq_team_key_idx on tickets.crq (lower(btrim(assigned_team)));
