-- CRQ (new-installation requests): the same 32-column export, the same engine, its own table
-- with the same typed generated columns, geometry and indexes as tickets.inc.
create table tickets.crq (like tickets.inc including all);
