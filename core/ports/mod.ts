/**
 * The ports the core depends on. Adapters (`adapters/*`) implement them; the stages in
 * `core/` only ever see these interfaces, and each port declares its own errors (with a
 * `terminal` flag: true when retrying as is cannot help).
 *
 * @module
 */

export * from "./clock.ts";
export * from "./database.ts";
export * from "./geocoder.ts";
export * from "./object_store.ts";
