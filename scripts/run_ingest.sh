#!/usr/bin/env bash
# Cron wrapper: loads .env beside the checkout, then drains every dataset once.
#   CRON_TZ=Africa/Nairobi
#   */20 6-20 * * * /opt/fleettickets/scripts/run_ingest.sh >> /var/log/fleettickets.log 2>&1
# Arguments are passed on (e.g. --dataset inc, --wait-lock 60); the defaults below are added only
# for what they leave out, as ingest refuses a flag given twice.
set -euo pipefail
args=("$@")
# shellcheck source=scripts/_cron.sh
. "$(dirname "$(readlink -f "$0")")/_cron.sh" # a symbolic link to the wrapper works too
defaults=()
given --from-bucket || given --from-dir || given --csv || defaults+=(--from-bucket)
given --apply || defaults+=(--apply)
given --dataset || defaults+=(--dataset all)
if [[ -x dist/fleettickets ]]; then
  exec dist/fleettickets ingest "${defaults[@]}" "$@"
fi
deno=$(find_deno)
exec "$deno" task -q ingest "${defaults[@]}" "$@"
