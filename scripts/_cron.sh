# Shared by the cron wrappers (run_ingest.sh, run_geocode.sh), sourced after `args=("$@")`:
# moves to the checkout, loads its .env, and defines `given FLAG` (was FLAG among the arguments?).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Names each .env line bash would misread, by number and name, never its value (before: bash's
# own error printed the rest of a password after its "$" into the cron log). 2 when one is found.
check_env_file() {
  sed 's/\r$//' "$1" | awk -v file="$1" '
    function refuse(why) { printf "%s line %d: %s\n", file, NR, why > "/dev/stderr"; bad = 1 }
    NR == 1 && /^\357\273\277/ {
      # Before: "expected NAME=value, without spaces around "="" (bash reads the mark as part
      # of the first name, and ". ./.env" by hand prints the whole line, password and all).
      refuse("the file begins with a UTF-8 byte order mark (BOM), which bash reads as part of the first name: save it without one (sed -i \0471s/^\\xEF\\xBB\\xBF//\047 " file ")")
      sub(/^\357\273\277/, "")
    }
    /^[[:space:]]*(#|$)/ { next }
    {
      line = $0
      sub(/^[[:space:]]*(export[[:space:]]+)?/, "", line)
      if (line !~ /^[A-Za-z_][A-Za-z0-9_]*=/) {
        refuse("expected NAME=value, without spaces around \"=\""); next
      }
      name = line; sub(/=.*/, "", name)
      value = line; sub(/^[^=]*=/, "", value)
      gsub(/\047[^\047]*\047/, "", value) # single-quoted: read as written
      if (value ~ /[$`]/) {
        refuse(name "\047s value holds \"$\" or \"`\", which bash would expand: single-quote it (" name "=\047...\047)"); next
      }
      gsub(/"[^"]*"/, "", value)
      sub(/[[:space:]]+#.*$/, "", value)
      sub(/[[:space:]]+$/, "", value) # bash ends the value there: "NAME=0 " reads "0"
      if (value ~ /[[:space:];&|<>()\\\047"]/) {
        refuse(name "\047s value holds a space, a quote or a character bash reads apart: single-quote it (" name "=\047...\047)")
      }
    }
    END { exit bad ? 2 : 0 }'
}
if [[ -f .env ]]; then
  check_env_file .env || exit 2
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
