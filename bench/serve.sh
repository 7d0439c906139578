#!/usr/bin/env bash
# Dashboard benchmark (make bench): the logs page over 5 million stored
# rows, timed from outside with curl (sign-in cookie, whole answer), median
# of 21 requests each:
#   - the first page (no filter: the newest 100 of all rows);
#   - a page deep into a filtered result (severity warn or higher and one
#     client, 50 pages in, reached by following "Older" links);
#   - the same deep page of another filter (severity error or higher).
# Baseline in the same run: psql running each page's SELECT (the same
# statement the server runs, printed by it), same rows, median of 21.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench-data/access_5M.log
# 5,030,000 lines: about 5,005,000 rows (the generator writes some malformed lines).
[ -f "$DATA" ] || python3 bench/gen_logs.py --lines 5030000 --seed 5 --format combined --out "$DATA"
export LOGTRACK_PG_PORT=${LOGTRACK_PG_PORT:-54339}
URL="postgres://postgres@127.0.0.1:$LOGTRACK_PG_PORT/postgres"
export LOGTRACK_DATABASE_URL=$URL
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
. bench/http.sh
bench_server

ROWS=$(psql "$URL" -Atc "SELECT count(*) FROM logs" 2>/dev/null || echo 0)
if [ "$ROWS" -lt 5000000 ]; then
  $BIN db reset --yes -q
  $BIN ingest -q --format combined --service web "$DATA"
  psql "$URL" -qc "VACUUM ANALYZE logs"
  ROWS=$(psql "$URL" -Atc "SELECT count(*) FROM logs")
fi
start_dashboard

deep() { # filter query → the URL 50 pages in
  local url="/logs?$1"
  for _ in $(seq 49); do
    url=$(curl -s -b "$JAR" "$BASE$url" | grep -o '<a class="older" href="[^"]*"' | head -1 | sed 's/.*href="//; s/"$//; s/&amp;/\&/g')
    [ -n "$url" ] || { echo "fewer than 50 pages for $1" >&2; exit 1; }
  done
  echo "$url"
}
# The columns of the server's page query (store::browse's LOG_COLUMNS).
COLS="(extract(epoch from ts) * 1000000)::bigint AS micros, ctid::text AS tid, ingest_host, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), service, host, severity, user_name, coalesce(fields->>'client_ip', fields->>'source_ip'), message, source_path, source_line, source_index"
IP=$(psql "$URL" -Atc "SELECT fields->>'client_ip' FROM logs WHERE severity = 'warn' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
sql_deep() { # URL → the server's SELECT for that page
  local c=${1##*before=}; c=${c//%2E/.}
  local m=${c%%.*} rest=${c#*.}; local b=${rest%%.*}; rest=${rest#*.}; local o=${rest%%.*} h=${rest#*.}
  h=$(printf '%b' "$(printf '%s' "$h" | sed 's/../\\x&/g')")
  echo "SELECT $COLS FROM logs WHERE $2 AND ts <= ('epoch'::timestamptz + $m * interval '1 microsecond') AND (ts, ingest_host, ctid) < (('epoch'::timestamptz + $m * interval '1 microsecond'), '$h', '($b,$o)'::tid) ORDER BY ts DESC, ingest_host DESC, ctid DESC LIMIT 101"
}

D1=$(deep "severity=warn&client_ip=$IP")
D2=$(deep "severity=error")
first=$(page_ms "/logs")
deep1=$(page_ms "$D1")
deep2=$(page_ms "$D2")
pfirst=$(psql_ms "SELECT $COLS FROM logs ORDER BY ts DESC, ingest_host DESC, ctid DESC LIMIT 101")
pdeep1=$(psql_ms "$(sql_deep "$D1" "severity = ANY('{warn,error,fatal}') AND coalesce(fields->>'client_ip', fields->>'source_ip') = '$IP'")")
pdeep2=$(psql_ms "$(sql_deep "$D2" "severity = ANY('{error,fatal}')")")

printf '%-58s %12s %12s %8s\n' "logs page over $ROWS rows (median of 21)" "dashboard" "psql SELECT" "ratio"
row "first page, no filter" "$first" "$pfirst"
row "page 50 of severity>=warn and client $IP" "$deep1" "$pdeep1"
row "page 50 of severity>=error" "$deep2" "$pdeep2"
echo "(dashboard: the whole HTTP answer from outside, session check and service list included;"
echo " psql: the same SELECT in one session, \\timing; every page must answer in under 100 ms)"
