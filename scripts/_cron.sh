# Shared by the cron wrappers (run_ingest.sh, run_geocode.sh), sourced after `args=("$@")`:
# moves to the checkout, loads its .env, and defines `given FLAG` (was FLAG among the arguments?).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -f .env ]]; then
  set -a
  # shellcheck disable=SC1091
  . ./.env
  set +a
fi
given() {
  local flag
  for flag in "${args[@]}"; do [[ "$flag" == "$1" || "$flag" == "$1="* ]] && return 0; done
  return 1
}
