-- A name (cluster, team, owner, status) is one name in any case and without the white space
-- around it: tickets.name_key, which the filters match, every grouping groups by, and geometry
-- resolution finds a cluster's cached point by (before: lower(x) in the filters, the exact text
-- everywhere else, so "NBI North FLM" and "nbi north flm " were rows that no filter could give
-- back, and only the exact spelling of a cluster got its point). The white space is JavaScript's
-- trim() (serve's and the page's): spaces, tabs, line ends, no-break and other Unicode spaces.
-- In this migration, not a definition: the indexes below are built from it. A database whose
-- encoding is not UTF-8 (SQL_ASCII) cannot hold the Unicode spaces: there, the ASCII ones.
do $do$
begin
  if current_setting('server_encoding') = 'UTF8' then
    execute $f$
      create function tickets.name_key(v text) returns text
      language sql immutable parallel safe as $b$
        select lower(btrim(v, E' \t\n\r\u000b\u000c\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'))
      $b$$f$;
  else
    execute $f$
      create function tickets.name_key(v text) returns text
      language sql immutable parallel safe as $b$
        select lower(btrim(v, E' \t\n\r\u000b\u000c'))
      $b$$f$;
  end if;
end
$do$;

-- The indexes follow the rule, replacing migration 006's lower(x) ones for the filters (as many
-- as before on the tickets: a change file's merge writes each); the cache's, for geometry.
drop index tickets.inc_cluster_lower_idx;
drop index tickets.crq_cluster_lower_idx;
drop index tickets.inc_team_lower_idx;
drop index tickets.crq_team_lower_idx;
create index inc_cluster_key_idx on tickets.inc (tickets.name_key(cluster));
create index crq_cluster_key_idx on tickets.crq (tickets.name_key(cluster));
create index inc_team_key_idx on tickets.inc (tickets.name_key(assigned_team));
create index crq_team_key_idx on tickets.crq (tickets.name_key(assigned_team));
create index geo_clusters_key_idx on tickets.geo_clusters (tickets.name_key(cluster));
create index geo_locations_key_idx on tickets.geo_locations (tickets.name_key(cluster), place);
