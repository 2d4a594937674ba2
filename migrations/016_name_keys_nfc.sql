-- A name is one name in either Unicode form: "Nyali Béach" typed with é as one character (NFC,
-- what keyboards send) and as e + a combining accent (NFD, what some systems export) were two keys
-- (migration 015), so a filter in the one form matched no ticket stored in the other, and the
-- groupings counted them apart (a tester's). tickets.name_key now brings a name to NFC before
-- trimming and lowering it (a name already in NFC, nearly all, is only checked). normalize()
-- needs a UTF-8 database; elsewhere the key stays as migration 015 made it. The indexes built
-- from the key are built again: their stored keys followed the old rule.
do $do$
begin
  if current_setting('server_encoding') = 'UTF8' then
    execute $f$
      create or replace function tickets.name_key(v text) returns text
      language sql immutable parallel safe as $b$
        select lower(btrim(case when v is nfc normalized then v else normalize(v, nfc) end, E' \t\n\r\u000b\u000c\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'))
      $b$$f$;
  end if;
end
$do$;

-- Dropped and built again, not reindexed: a session keeps an index's expression with the SQL
-- function's old body inlined, and REINDEX in it would compute the old keys again.
drop index tickets.inc_cluster_key_idx;
drop index tickets.crq_cluster_key_idx;
drop index tickets.inc_team_key_idx;
drop index tickets.crq_team_key_idx;
drop index tickets.geo_clusters_key_idx;
drop index tickets.geo_locations_key_idx;
create index inc_cluster_key_idx on tickets.inc (tickets.name_key(cluster));
create index crq_cluster_key_idx on tickets.crq (tickets.name_key(cluster));
create index inc_team_key_idx on tickets.inc (tickets.name_key(assigned_team));
create index crq_team_key_idx on tickets.crq (tickets.name_key(assigned_team));
create index geo_clusters_key_idx on tickets.geo_clusters (tickets.name_key(cluster));
create index geo_locations_key_idx on tickets.geo_locations (tickets.name_key(cluster), place);
