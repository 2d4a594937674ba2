-- tickets.eat_ts() and tickets.num() catch a failed cast in an exception block, which starts a
-- subtransaction, and a subtransaction cannot start inside a parallel query: marked "parallel
-- safe" (001), any query that PostgreSQL ran in parallel over enough rows and called them failed
-- with "cannot start subtransactions during a parallel operation" (e.g. an ad-hoc report through
-- `deno task sql`). Parallel unsafe, such a query runs without parallel workers and succeeds.
-- hours_to_minutes() calls num(). Only the labels change: no stored value is affected.
alter function tickets.eat_ts(text) parallel unsafe;
alter function tickets.num(text) parallel unsafe;
alter function tickets.hours_to_minutes(text) parallel unsafe;
