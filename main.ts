/**
 * The fleettickets command line: `deno task <command>` runs `main.ts <command>`.
 * Commands live in `cli/`; see `cli/main.ts`.
 *
 * @module
 */

import { main } from "./cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
