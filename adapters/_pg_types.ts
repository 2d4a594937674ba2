// PostgreSQL type OIDs both database adapters read from a statement's result (PGlite's fields and
// postgres.js's columns carry them). Private to adapters/.

/** The `date` type: a day, not an instant (its values come as instants at UTC midnight). */
export const DATE_OID = 1082;
