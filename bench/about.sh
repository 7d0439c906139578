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
hdfs_1G.log:1.1 cloudtrail_300M.json:0.3 access_2M.log:0.5 access_5M.log:1.1 logs.csv:1.1 logs_2M.csv:0.5"
total=0 missing=0
for f in $files; do
  name=${f%%:*} size=${f##*:}
  total=$(awk -v a="$total" -v b="$size" 'BEGIN{print a + b}')
  [ -f "bench-data/$name" ] || missing=$(awk -v a="$missing" -v b="$size" 'BEGIN{print a + b}')
done
# The throwaway servers at their largest: 5 M stored rows with their
# indexes, or the Citus cluster's 2 M rows on four servers.
servers=6
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
              run ($missing GiB of them still to generate), and up to about $servers GiB more
              for throwaway PostgreSQL servers while it runs; free: $free GiB
  PostgreSQL  server binaries (initdb, pg_ctl) and psql: $pg
  Citus       $citus
  peers       lnav: $(found lnav); goaccess: $(found goaccess) (optional; compared when installed)
  time        roughly 30 to 45 minutes on 2 cores, estimated from its parts: generating
              the logs takes about 30 s a GiB (7 minutes when none is kept), GoAccess
              about 4.5 minutes when installed; each part prints its figures as it goes
TEXT
need=$(awk -v m="$missing" -v s="$servers" 'BEGIN{printf "%.0f", m + s}')
if [ "$free" -lt "$need" ]; then
  echo "warning: $free GiB free in bench-data/, about $need GiB needed: free some space or expect a benchmark to fail" >&2
fi
echo
