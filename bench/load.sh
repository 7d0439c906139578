#!/usr/bin/env bash
# Load benchmark (make bench): `logtrack ingest` of the generated 1 GiB
# combined log against `psql \copy` of the same rows (exported to CSV from
# the first load) into the same table, in one run, on a throwaway server;
# then a second ingest (nothing new) and row-by-row INSERTs (the old tool's
# way) of 100k rows for scale.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench-data/access_1G.log
[ -f "$DATA" ] || python3 bench/gen_logs.py --size 1G --seed 42 --format combined --out "$DATA"
export LOGTRACK_PG_PORT=${LOGTRACK_PG_PORT:-54339}
URL="postgres://postgres@127.0.0.1:$LOGTRACK_PG_PORT/postgres"
export LOGTRACK_DATABASE_URL=$URL
./scripts/pg.sh up >/dev/null
trap './scripts/pg.sh down >/dev/null' EXIT
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
$BIN db reset --yes -q
$BIN db init -q
measure() { /usr/bin/time -f "%e %M" -o /tmp/logtrack-load.time "$@" > /dev/null 2>/tmp/logtrack-load.err; tail -1 /tmp/logtrack-load.time; }

# A mid-sized load first: 2 M rows, ingest against psql \copy of the same
# rows (exported from a first, untimed ingest) into the same table, emptied
# before each load with its day partitions kept (psql cannot make them).
# Two rounds, the two taking turns, best of each: at this size one noisy
# second on a shared machine moves the ratio by a tenth.
MID=bench-data/access_2M.log
[ -f "$MID" ] || python3 bench/gen_logs.py --lines 2000000 --seed 44 --format combined --out "$MID"
$BIN ingest -q --format combined "$MID"
MROWS=$(psql "$URL" -Atc "SELECT count(*) FROM logs")
psql "$URL" -qc "\\copy (SELECT * FROM logs) TO 'bench-data/logs_2M.csv' WITH (FORMAT csv)"
empty() { psql "$URL" -qc "TRUNCATE logs, rejects, checkpoints; CHECKPOINT"; }
mlt=999999; mpc=999999
for _ in 1 2; do
  empty
  read -r t _ < <(measure $BIN ingest --format combined "$MID")
  mlt=$(awk -v a="$t" -v b="$mlt" 'BEGIN{print (a<b)?a:b}')
  [ "$(psql "$URL" -Atc "SELECT count(*) FROM logs")" = "$MROWS" ] || { echo "ingest stored a different number of rows" >&2; exit 1; }
  empty
  read -r t _ < <(measure psql "$URL" -qc "\\copy logs FROM 'bench-data/logs_2M.csv' WITH (FORMAT csv)")
  mpc=$(awk -v a="$t" -v b="$mpc" 'BEGIN{print (a<b)?a:b}')
done
$BIN db reset --yes -q
$BIN db init -q

read -r lt rss < <(measure $BIN ingest --format combined "$DATA")
ROWS=$(psql "$URL" -Atc "SELECT count(*) FROM logs")
read -r again _ < <(measure $BIN ingest --format combined "$DATA")

# Detection over the stored rows (bench/run.toml's six rules), against
# psql reading the same columns of the same rows out with COPY.
read -r det drss < <(measure $BIN detect bench/run.toml --report-dir bench-data/reports-detect)
read -r cpo _ < <(measure psql "$URL" -qc "COPY (SELECT ts, service, source_path, source_line, source_index, severity, message, fields -> 'client_ip', fields -> 'source_ip' FROM logs) TO STDOUT (FORMAT binary)")

CSV=bench-data/logs.csv
psql "$URL" -qc "\\copy (SELECT * FROM logs) TO '$CSV' WITH (FORMAT csv)"
psql "$URL" -qc "TRUNCATE logs"
read -r pc _ < <(measure psql "$URL" -qc "\\copy logs FROM '$CSV' WITH (FORMAT csv)")

head -100000 "$CSV" > bench-data/logs_100k.csv
python3 - "$URL" <<'PY' > /tmp/logtrack-insert.sql
import csv, sys
print("BEGIN;")
for row in csv.reader(open("bench-data/logs_100k.csv")):
    vals = ", ".join("NULL" if v == "" else "'" + v.replace("'", "''") + "'" for v in row)
    print(f"INSERT INTO logs VALUES ({vals});")
print("COMMIT;")
PY
psql "$URL" -qc "TRUNCATE logs"
read -r ins _ < <(measure psql "$URL" -q -f /tmp/logtrack-insert.sql)

printf '%-50s %10s %12s %10s\n' "load ($ROWS rows)" seconds "rows/s" "peak RSS"
printf '%-50s %10s %12s %10s\n' "logtrack ingest (binary COPY, checkpoints)" "$lt" "$(awk -v r="$ROWS" -v s="$lt" 'BEGIN{printf "%.0f", r/s}')" "$((rss/1024)) MB"
printf '%-50s %10s %12s %10s\n' "psql \\copy of the same rows (CSV)" "$pc" "$(awk -v r="$ROWS" -v s="$pc" 'BEGIN{printf "%.0f", r/s}')" "-"
printf '%-50s %10s %12s %10s\n' "row-by-row INSERT, 100k rows, one transaction" "$ins" "$(awk -v s="$ins" 'BEGIN{printf "%.0f", 100000/s}')" "-"
printf '%-50s %10s\n' "logtrack ingest again (nothing new)" "$again"
printf '%-50s %10s %12s %10s\n' "logtrack detect bench/run.toml (6 rules, all rows)" "$det" "$(awk -v r="$ROWS" -v s="$det" 'BEGIN{printf "%.0f", r/s}')" "$((drss/1024)) MB"
printf '%-50s %10s %12s %10s\n' "psql COPY of the columns detect reads" "$cpo" "$(awk -v r="$ROWS" -v s="$cpo" 'BEGIN{printf "%.0f", r/s}')" "-"
echo "logtrack detect takes $(awk -v a="$det" -v b="$cpo" 'BEGIN{printf "%.2f", a/b}')x the time psql takes to read the same rows out"
echo "logtrack ingest loads at $(awk -v a="$pc" -v b="$lt" 'BEGIN{printf "%.2f", a/b}')x the rows/s of psql \\copy ($ROWS rows)"
echo "logtrack ingest loads at $(awk -v a="$mpc" -v b="$mlt" 'BEGIN{printf "%.2f", a/b}')x the rows/s of psql \\copy ($MROWS rows: $mlt s against $mpc s, best of 2 in turns)"
