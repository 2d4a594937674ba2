#!/usr/bin/env bash
# Cron wrapper: loads .env beside the checkout, then drains every dataset once.
#   CRON_TZ=Africa/Nairobi
#   */20 6-20 * * * /opt/fleettickets/scripts/run_ingest.sh >> /var/log/fleettickets.log 2>&1
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -f .env ]]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi
if [[ -x dist/fleettickets ]]; then
  exec dist/fleettickets ingest --from-bucket --apply --dataset all "$@"
fi
exec deno task -q ingest --from-bucket --apply --dataset all "$@"
