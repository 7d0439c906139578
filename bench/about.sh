#!/usr/bin/env bash
# What `make bench` needs, printed before it starts: disk for the generated
# logs (kept in bench-data/ for the next run) and for the throwaway
# PostgreSQL servers, the server binaries, the optional peers and Citus, and
# about how long it takes. It checks what it can and warns; it stops
# nothing (each benchmark says itself what it skips).
set -uo pipefail
cd "$(dirname "$0")/.."

# name:GiB of what the benchmarks generate (sizes as written on disk).
files="access_1G.log:1.1 access_4G.log:4.4 syslog_1G.log:1.1 json_1G.log:1.1 app_1G.log:1.1
hdfs_1G.log:1.1 cloudtrail_300M.json:0.3 access_2M.log:0.5 access_5M.log:1.1 logs.csv:2.1 logs_2M.csv:0.5"
total=0 missing=0
for f in $files; do
  name=${f%%:*} size=${f##*:}
  total=$(awk -v a="$total" -v b="$size" 'BEGIN{print a + b}')
  [ -f "bench-data/$name" ] || missing=$(awk -v a="$missing" -v b="$size" 'BEGIN{print a + b}')
done
# The throwaway servers at their largest: 5 M stored rows with their
# indexes, or the Citus cluster's 2 M rows on four servers.
servers=6
# bench/overview.sh's database (150 M rows at the default size, about 25 GiB)
# is made once in .pgdata/ and kept; count it while it is not there.
rows=$(( ${OVERVIEW_DAYS:-30} * ${OVERVIEW_ROWS_PER_DAY:-5000000} ))
overview=$(awk -v r="$rows" 'BEGIN{printf "%.0f", 25 * r / 150000000}')
have=$(du -sk .pgdata 2>/dev/null | awk '{printf "%.0f", $1 / 1048576}')
[ "${have:-0}" -ge "$overview" ] && overview=0
mkdir -p bench-data
free=$(df -Pk bench-data | awk 'NR == 2 {printf "%.0f", $4 / 1048576}')
found() { command -v "$1" >/dev/null 2>&1 && echo "found" || echo "not installed"; }
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
pg="not found (install postgresql: the load, detect, dashboard and cluster benchmarks need it)"
[ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] && command -v psql >/dev/null 2>&1 && pg="found ($PGBIN)"
citus="not installed: the cluster benchmark is skipped (scripts/citus.sh builds it)"
[ -n "$PGBIN" ] && [ -f "$("$PGBIN/pg_config" --pkglibdir 2>/dev/null)/citus.so" ] && citus="found"

cat <<TEXT
make bench: what it needs
  disk        about $total GiB of generated logs and CSV in bench-data/, kept for the next
              run ($missing GiB of them still to generate); up to about $servers GiB more
              for throwaway PostgreSQL servers while it runs; and about $overview GiB for
              the dashboard-at-scale database in .pgdata/, made once and kept ($rows rows:
              OVERVIEW_DAYS and OVERVIEW_ROWS_PER_DAY make it smaller); free: $free GiB
  PostgreSQL  server binaries (initdb, pg_ctl) and psql: $pg
  Citus       $citus
  peers       lnav: $(found lnav); goaccess: $(found goaccess) (optional; compared when installed)
  time        measured on 2 cores: 18 minutes from the build to the end of the logs
              page benchmark, 7 GiB of logs generated on the way, without lnav and
              GoAccess (GoAccess adds about 4.5 minutes); then the dashboard at scale,
              whose first run generates its rows inside PostgreSQL (a long while; later
              runs reuse them). Each part prints its figures as it goes
TEXT
need=$(awk -v m="$missing" -v s="$servers" -v o="$overview" 'BEGIN{printf "%.0f", m + s + o}')
if [ "$free" -lt "$need" ]; then
  echo "warning: $free GiB free in bench-data/, about $need GiB needed: free some space or expect a benchmark to fail" >&2
fi
echo
