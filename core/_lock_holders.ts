/**
 * Who holds the schema's tables: the sessions a statement past its lock timeout most likely
 * waited for, in words, with the statement that ends the first. Private to core/.
 *
 * @module
 */

import type { Database } from "./ports/mod.ts";

/** lock_not_available: a statement's lock timeout ran out. */
export const LOCK_NOT_AVAILABLE = "55P03";

/**
 * The sessions that hold locks on the schema's tables: those left idle in a transaction first
 * (what holds a lock for no reason: a psql session that never committed), then the longest. $1:
 * only those that hold more than a reader's lock (a row written, a table locked): what a write
 * waits for. $2: only those that hold or wait for a lock that keeps readers out (ACCESS
 * EXCLUSIVE: DDL, VACUUM FULL, LOCK TABLE; one that waits for it queues every reader behind it):
 * what a read waits for.
 */
const LOCK_HOLDERS = `
select a.pid, coalesce(nullif(a.application_name, ''), a.usename) as who, a.state,
       max(round(extract(epoch from now() - coalesce(a.xact_start, a.backend_start))))::int
         as for_s
from pg_locks l
join pg_class c on c.oid = l.relation
join pg_stat_activity a on a.pid = l.pid
where (l.granted or $2::boolean) and l.pid <> pg_backend_pid()
  and ($1::boolean is not true or l.mode <> 'AccessShareLock')
  and ($2::boolean is not true or l.mode = 'AccessExclusiveLock')
  and c.relnamespace in (select oid from pg_namespace where nspname in ('tickets', 'reporting'))
group by a.pid, a.application_name, a.usename, a.state
order by a.state = 'idle in transaction' desc, for_s desc
limit 3`;

/** The holders in words and the first one's pid (best effort: none when the lookup fails). */
export interface LockHolders {
  /** `PostgreSQL process 4242 ("psql", idle in transaction for 310 s)`, … */
  said: string[];
  /** The longest holder's process, to end with `pg_terminate_backend`. */
  first?: number;
}

/**
 * Looks up who holds the schema's tables: `writers`, more than a reader's lock (what a write
 * waits for); `readers`, a lock that keeps readers out, held or waited for (what a read waits
 * for); else any lock.
 */
export async function lockHolders(
  db: Database,
  kind: "writers" | "readers" | "any",
): Promise<LockHolders> {
  type Holder = { pid: number; who: string; state: string | null; for_s: number };
  const holders = await db.query<Holder>(LOCK_HOLDERS, [kind === "writers", kind === "readers"])
    .catch(() => [] as Holder[]);
  return {
    said: holders.map((h) =>
      `PostgreSQL process ${h.pid} ("${h.who}", ${h.state ?? "busy"} for ${h.for_s} s)`
    ),
    first: holders[0]?.pid,
  };
}
