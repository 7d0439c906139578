# Shared by the dashboard benchmarks (sourced): a signed-in curl session
# and medians of page and psql timings. Needs BIN and URL set.

# Starts the benchmark's PostgreSQL (stopped on exit, with the dashboard)
# and makes WORK, a folder removed on exit.
bench_server() {
  ./scripts/pg.sh up >/dev/null
  WORK=$(mktemp -d)
  trap bench_cleanup EXIT
}

bench_cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  ./scripts/pg.sh down >/dev/null
  rm -rf "$WORK"
}

# Starts `logtrack serve` on a free port as user `bench`; sets SERVER, BASE, JAR.
start_dashboard() {
  psql "$URL" -qc "DELETE FROM users WHERE username = 'bench'"
  echo 'bench password 123' | $BIN user add bench --password-stdin -q
  $BIN serve --bind 127.0.0.1:0 2> "$WORK/serve.log" &
  SERVER=$!
  for _ in $(seq 100); do grep -q 'listening on' "$WORK/serve.log" && break; sleep 0.1; done
  BASE=$(grep -o 'http://[0-9.:]*' "$WORK/serve.log" | head -1)
  JAR=$WORK/cookies
  local token
  token=$(curl -s -c "$JAR" -b "$JAR" "$BASE/signin" | grep -o 'name="csrf" value="[0-9a-f]*"' | cut -d'"' -f4)
  curl -s -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode username=bench \
    --data-urlencode 'password=bench password 123' -d "csrf=$token" "$BASE/signin"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

page_ms() { # URL path [runs] → median milliseconds (default 21 requests)
  local status
  status=$(curl -s -o /dev/null -b "$JAR" -w '%{http_code}' "$BASE$1")
  [ "$status" = 200 ] || { echo "$1 answered $status, not 200: $(tail -3 "$WORK/serve.log")" >&2; exit 1; }
  for _ in $(seq "${2:-21}"); do
    curl -s -o /dev/null -b "$JAR" -w '%{time_total}\n' "$BASE$1"
  done | awk '{printf "%.1f\n", $1 * 1000}' | median
}

psql_ms() { # SQL [runs] → median milliseconds in one psql session (\timing)
  { echo '\timing on'; for _ in $(seq "${2:-21}"); do echo "$1;"; done; } |
    psql "$URL" -Atq -o /dev/null | awk '/^Time:/ {printf "%.1f\n", $2}' | median
}

# One table row: what, ours, baseline, ratio.
row() { printf '%-58s %9s ms %9s ms %8s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN{printf "%.3gx", a/b}')"; }
