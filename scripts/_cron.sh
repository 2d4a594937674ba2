# Shared by the cron wrappers (run_ingest.sh, run_geocode.sh), sourced after `args=("$@")`:
# moves to the checkout, loads its .env, and defines `given FLAG` (was FLAG among the arguments?).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -f .env ]]; then
  set -a
  # A .env saved with Windows line endings read as is stops the wrapper ($'\r': command not
  # found): its carriage returns are dropped.
  # shellcheck disable=SC1091
  . <(sed 's/\r$//' ./.env)
  set +a
fi
given() {
  local flag
  for flag in "${args[@]}"; do [[ "$flag" == "$1" || "$flag" == "$1="* ]] && return 0; done
  return 1
}
# The deno to run when there is no compiled binary: cron's PATH is /usr/bin:/bin, where a deno
# installed by its installer (~/.deno/bin) or npm is not; say what to do rather than "not found".
find_deno() {
  local candidate
  # ${HOME:+…}: a unit without HOME (systemd without User=) must not stop the wrapper (set -u).
  for candidate in "$(command -v deno || true)" "${HOME:+$HOME/.deno/bin/deno}" /usr/local/bin/deno; do
    [[ -n "$candidate" && -x "$candidate" ]] && { echo "$candidate"; return 0; }
  done
  echo "$(basename "$0"): no dist/fleettickets and no deno on PATH ($PATH) or in ~/.deno/bin:" \
    "build the binary (deno task compile), or set PATH=... in the crontab" >&2
  return 127
}
