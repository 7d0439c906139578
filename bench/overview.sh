#!/usr/bin/env bash
# Dashboard at scale (make bench): OVERVIEW_DAYS days (default 30) of
# OVERVIEW_ROWS_PER_DAY records a day (default 5,000,000: 150 M rows),
# generated inside PostgreSQL in a database of their own, then, timed from
# outside with curl (sign-in cookie, whole answer), median of 11:
#   - the overview of the whole span (`/?hours=720`), which reads the
#     per-hour counts (`log_hours`), and of one day (`/?hours=24`), which
#     reads the per-minute ones (`log_minutes`);
#   - the logs page's text filter on a word in 10 of the rows, with the
#     trigram index (`logtrack db text-index`).
# Baselines in the same run, psql in one session, median of 11: the two
# GROUP BY passes over the span that the overview ran before the per-minute
# counts, and the logs page's own SELECT for the text filter.
# The rows are made once and kept (about 25 GB at the default size; the
# first run takes a long while): OVERVIEW_DAYS/ROWS_PER_DAY make it smaller.
set -euo pipefail
cd "$(dirname "$0")/.."
DAYS=${OVERVIEW_DAYS:-30}
PER_DAY=${OVERVIEW_ROWS_PER_DAY:-5000000}
TOTAL=$((DAYS * PER_DAY))
export LOGTRACK_PG_PORT=${LOGTRACK_PG_PORT:-54339}
ADMIN="postgres://postgres@127.0.0.1:$LOGTRACK_PG_PORT/postgres"
DB=overview_${DAYS}d_${PER_DAY}
URL="postgres://postgres@127.0.0.1:$LOGTRACK_PG_PORT/$DB"
export LOGTRACK_DATABASE_URL=$URL
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
. bench/http.sh
bench_server

RARE=zebracornfailure
if [ "$(psql "$ADMIN" -Atc "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" = 0 ]; then
  echo "generating $DAYS days of $PER_DAY rows (once)..." >&2
  psql "$ADMIN" -qc "CREATE DATABASE $DB"
  $BIN db init -q
  psql "$URL" -q -v ON_ERROR_STOP=1 <<SQL
SET TimeZone = 'UTC';
SET maintenance_work_mem = '1GB';
DO \$\$
DECLARE d date;
BEGIN
  FOR i IN 0..$DAYS - 1 LOOP
    d := date '2026-01-01' + i;
    EXECUTE format('CREATE TABLE logs_%s PARTITION OF logs FOR VALUES FROM (%L) TO (%L)',
                   to_char(d, 'YYYYMMDD'), d::timestamptz, (d + 1)::timestamptz);
  END LOOP;
END \$\$;
INSERT INTO logs (ts, service, host, severity, message, user_name, fields, source_path, source_line, source_index, ingest_host)
SELECT timestamptz '2026-01-01 00:00:00+00' + (g * 86400.0 / $PER_DAY) * interval '1 second',
       (ARRAY['web', 'api', 'hdfs', 'auth'])[1 + g % 4], NULL,
       (ARRAY['info', 'info', 'info', 'warn', 'error'])[1 + (g / 7) % 5],
       'GET /item/' || (g % 100003) || ' HTTP/1.1 from user' || (g % 977) || ' took ' || (g % 1009) || 'ms',
       NULL, '{}'::jsonb, 'bench-generated', g, NULL, 'bench'
FROM generate_series(0, $TOTAL - 1) g;
INSERT INTO logs (ts, service, host, severity, message, user_name, fields, source_path, source_line, source_index, ingest_host)
SELECT timestamptz '2026-01-01 00:00:00+00' + (k * 86400.0 * $DAYS / 10) * interval '1 second', 'web', NULL, 'error',
       'upstream $RARE on /checkout', NULL, '{}'::jsonb, 'bench-rare', k, NULL, 'bench'
FROM generate_series(0, 9) k;
-- What loading keeps: the migration's own count of existing rows.
TRUNCATE log_minutes, log_hours;
INSERT INTO log_minutes (minute, service, severity, records)
SELECT 'epoch'::timestamptz + floor(extract(epoch FROM ts) / 60) * interval '1 minute',
       service, coalesce(severity, 'none'), count(*)
FROM logs GROUP BY 1, 2, 3;
INSERT INTO log_hours (hour, service, severity, records)
SELECT 'epoch'::timestamptz + floor(extract(epoch FROM minute) / 3600) * interval '1 hour',
       service, severity, sum(records)
FROM log_minutes GROUP BY 1, 2, 3;
VACUUM ANALYZE;
SQL
  # Made after the rows: a build is faster than maintaining it row by row.
  $BIN db text-index -q
fi
ROWS=$(psql "$URL" -Atc "SELECT count(*) FROM logs")
start_dashboard

# The span the overview shows (the last 30 days to the newest record).
LAST=$(psql "$URL" -Atc "SELECT floor(extract(epoch FROM max(ts)))::bigint FROM logs")
SINCE=$((LAST - 720 * 3600 + 1))
RANGE="ts >= to_timestamp($SINCE) AND ts < to_timestamp($((LAST + 1)))"
GROUPED="SELECT service, (floor(extract(epoch from ts) / 60) * 60)::bigint, count(*) FROM logs WHERE $RANGE GROUP BY 1, 2"
GROUPED2="SELECT coalesce(severity, 'none'), (floor(extract(epoch from ts) / 60) * 60)::bigint, count(*) FROM logs WHERE $RANGE GROUP BY 1, 2"
COLS="(extract(epoch from ts) * 1000000)::bigint AS micros, ctid::text AS tid, ingest_host, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), service, host, severity, user_name, coalesce(fields->>'client_ip', fields->>'source_ip'), message, source_path, source_line, source_index"

overview=$(page_ms "/?hours=720" 11)
day=$(page_ms "/?hours=24" 11)
DAY_SINCE=$((LAST - 24 * 3600 + 1))
DAY_RANGE="ts >= to_timestamp($DAY_SINCE) AND ts < to_timestamp($((LAST + 1)))"
d1=$(psql_ms "${GROUPED/$RANGE/$DAY_RANGE}" 3)
d2=$(psql_ms "${GROUPED2/$RANGE/$DAY_RANGE}" 3)
dgrouped=$(awk -v a="$d1" -v b="$d2" 'BEGIN{printf "%.1f", a + b}')
# The baseline is two passes over every row of the span: fewer runs.
g1=$(psql_ms "$GROUPED" 3)
g2=$(psql_ms "$GROUPED2" 3)
grouped=$(awk -v a="$g1" -v b="$g2" 'BEGIN{printf "%.1f", a + b}')
rare=$(page_ms "/logs?q=$RARE" 11)
prare=$(psql_ms "SELECT $COLS FROM logs WHERE message ILIKE '%$RARE%' ORDER BY ts DESC, ingest_host DESC, ctid DESC LIMIT 101" 11)
hits=$(curl -s -b "$JAR" "$BASE/logs?q=$RARE" | grep -o "$RARE" | wc -l)

printf '%-58s %12s %12s %8s\n' "dashboard over $ROWS rows, $DAYS days (median)" "dashboard" "psql" "ratio"
row "overview of 30 days (psql: the two GROUP BY passes)" "$overview" "$grouped"
row "overview of 1 day (psql: the two GROUP BY passes)" "$day" "$dgrouped"
row "logs page, message contains a word of 10 rows" "$rare" "$prare"
echo "(dashboard: the whole HTTP answer from outside, session check included; the rare"
echo " word's page showed $hits mention(s); the overview must answer in under 100 ms)"
