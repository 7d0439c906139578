#!/usr/bin/env bash
# Cluster benchmark (make bench): the same generated rows loaded and
# detected on one PostgreSQL server and on a Citus cluster (a coordinator
# and two workers on this machine), in one run. On 2 cores a speed-up is not
# expected: the ratio is the cost of distribution (routing each row through
# the coordinator, two-phase commits, shard-parallel scans), and the rows/s
# per worker is the capacity model's unit (README, "Many hosts, and Citus").
# Skipped with a notice when the citus extension is not installed
# (scripts/citus.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
PGBIN=${LOGTRACK_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ ! -f "$("$PGBIN/pg_config" --pkglibdir)/citus.so" ]; then
  echo "cluster benchmark skipped: the citus extension is not installed (scripts/citus.sh)"
  exit 0
fi
DATA=${LOGTRACK_CITUS_BENCH_DATA:-bench-data/access_2M.log}
[ -f "$DATA" ] || python3 bench/gen_logs.py --lines 2000000 --seed 44 --format combined --out "$DATA"
# bench/run.toml's rules (detect reads the stored rows, not its sources).
JOB=bench-data/citus.toml
cp bench/run.toml "$JOB"

DIR=$PWD/bench-data/citus
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- sh -c "$1"; else sh -c "$1"; fi; }
BASE=${LOGTRACK_CITUS_PORT:-54360}
ports="$BASE $((BASE + 1)) $((BASE + 2)) $((BASE + 3))" # single, coordinator, worker, worker
# The servers are throwaway: stopped and their data (a few GiB) removed at the end.
stop() { for p in $ports; do as_pg "'$PGBIN/pg_ctl' -D '$DIR/$p' -m fast stop >/dev/null 2>&1" || true; rm -rf "${DIR:?}/$p"; done; }
trap stop EXIT
rm -rf "$DIR" && mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
for p in $ports; do
  as_pg "'$PGBIN/initdb' -D '$DIR/$p' -U postgres -A trust -E UTF8 --no-sync >/dev/null"
  {
    echo "port = $p"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$DIR'"
    echo "shared_buffers = 512MB"
    echo "max_wal_size = 4GB"
    echo "max_prepared_transactions = 100"
    if [ "$p" != "$BASE" ]; then echo "shared_preload_libraries = 'citus'"; fi
  } | as_pg "cat >> '$DIR/$p/postgresql.conf'"
  as_pg "'$PGBIN/pg_ctl' -D '$DIR/$p' -l '$DIR/$p.log' -w start >/dev/null"
done
url() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }
for p in $((BASE + 1)) $((BASE + 2)) $((BASE + 3)); do psql "$(url "$p")" -qc "CREATE EXTENSION citus"; done
psql "$(url $((BASE + 1)))" -qc "SELECT citus_set_coordinator_host('127.0.0.1', $((BASE + 1)))" \
  -c "SELECT citus_add_node('127.0.0.1', $((BASE + 2)))" -c "SELECT citus_add_node('127.0.0.1', $((BASE + 3)))" >/dev/null
SINGLE=$(url "$BASE")
CLUSTER=$(url $((BASE + 1)))
$BIN db init -q --database-url "$SINGLE"
$BIN db init -q --distributed --database-url "$CLUSTER"

measure() { /usr/bin/time -f "%e" -o /tmp/logtrack-citus.time "$@" > /dev/null 2>/tmp/logtrack-citus.err || { cat /tmp/logtrack-citus.err >&2; exit 1; }; tail -1 /tmp/logtrack-citus.time; }
# Four hosts load a quarter of the rows each, at once (each host's rows
# go to its own shard on the cluster), then detection reads them all.
split -n l/4 -d "$DATA" bench-data/citus/part-
bench_one() { # URL → "ingest-seconds detect-seconds"
  local t0 t1 pids=()
  t0=$(date +%s.%N)
  for k in 0 1 2 3; do
    LOGTRACK_HOST="bench-$k" $BIN ingest -q --format combined --service web --database-url "$1" "bench-data/citus/part-0$k" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(date +%s.%N)
  local det
  det=$(measure $BIN detect "$JOB" --database-url "$1" --report-dir bench-data/citus/reports)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') $det"
}
read -r si sd < <(bench_one "$SINGLE")
read -r ci cd < <(bench_one "$CLUSTER")
ROWS=$(psql "$CLUSTER" -Atc "SELECT count(*) FROM logs")
[ "$ROWS" = "$(psql "$SINGLE" -Atc "SELECT count(*) FROM logs")" ] || { echo "the cluster and the server stored different row counts" >&2; exit 1; }
rate() { awk -v r="$ROWS" -v s="$1" 'BEGIN{printf "%.0f", r/s}'; }
printf '%-62s %10s %12s\n' "one server vs a Citus cluster ($ROWS rows, 4 hosts loading)" seconds "rows/s"
printf '%-62s %10s %12s\n' "ingest, one server" "$si" "$(rate "$si")"
printf '%-62s %10s %12s\n' "ingest, coordinator + 2 workers" "$ci" "$(rate "$ci")"
printf '%-62s %10s %12s\n' "detect bench/run.toml's rules, one server" "$sd" "$(rate "$sd")"
printf '%-62s %10s %12s\n' "detect bench/run.toml's rules, coordinator + 2 workers" "$cd" "$(rate "$cd")"
echo "on the cluster, ingest takes $(awk -v a="$ci" -v b="$si" 'BEGIN{printf "%.2f", a/b}')x and detect $(awk -v a="$cd" -v b="$sd" 'BEGIN{printf "%.2f", a/b}')x the time of one server (all on this machine's $(nproc) cores)"
echo "per worker: $(awk -v r="$ROWS" -v s="$ci" 'BEGIN{printf "%.0f", r/s/2}') rows/s loaded"
