#!/usr/bin/env bash
# Cron wrapper for geocoding: loads .env beside the checkout, then looks up the clusters and places
# new tickets need (INC and CRQ, clusters first) within a per-run budget, and places the tickets.
#   CRON_TZ=Africa/Nairobi
#   10-59/20 6-20 * * * /opt/fleettickets/scripts/run_geocode.sh >> /var/log/fleettickets.log 2>&1
# The budget is GEOCODER_BUDGET, else 300 calls (at LocationIQ's 2/s about 2.5 minutes, inside
# one 20-minute slot); arguments are passed on (e.g. --budget 1000, --dataset inc).
set -euo pipefail
args=("$@")
# shellcheck source=scripts/_cron.sh
. "$(dirname "$(readlink -f "$0")")/_cron.sh" # a symbolic link to the wrapper works too
defaults=()
given --clusters || given --locations || defaults+=(--clusters --locations)
given --apply || defaults+=(--apply)
given --budget || [[ -n "${GEOCODER_BUDGET:-}" ]] || defaults+=(--budget 300)
if [[ -x dist/fleettickets ]]; then
  exec dist/fleettickets geocode "${defaults[@]}" "$@"
fi
deno=$(find_deno)
exec "$deno" task -q geocode "${defaults[@]}" "$@"
