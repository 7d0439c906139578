#!/usr/bin/env bash
# Rules benchmark (make bench): the six rules of bench/run.toml against the
# same six plus a `ratio`, a `percentile` per path (of the POST endpoints)
# and a seasonal z-score, over the generated ~1 GiB combined log; the six
# plus a percentile per raw request target (nearly every record its own
# group: the worst case of any grouping); then one rule selecting with
# `keyword` against the same rule selecting with `where`. Runs take turns,
# best of three, so that a noisy minute falls on both sides of a ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench-data/access_1G.log
[ -f "$DATA" ] || python3 bench/gen_logs.py --size 1G --seed 42 --format combined --out "$DATA"
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
JOBS=$(mktemp -d)
trap 'rm -rf "$JOBS"' EXIT
measure() { /usr/bin/time -f "%e %M" -o "$JOBS/time" "$@" > /dev/null 2>"$JOBS/err" || true; tail -1 "$JOBS/time"; }

sed "s|../bench-data/access_1G.log|$PWD/$DATA|; s|../bench-data/reports|$JOBS/reports6|" bench/run.toml > "$JOBS/six.toml"
sed "s|$JOBS/reports6|$JOBS/reports9|" "$JOBS/six.toml" > "$JOBS/nine.toml"
cat >> "$JOBS/nine.toml" <<'EOF'

[[rules]]
id = "api_5xx_rate"
type = "ratio"
where = 'fields.path ^= "/api/"'
numerator = "fields.status >= 500"
threshold = 0.05
min_total = 200
window = "5m"

[[rules]]
id = "bytes_p95_per_endpoint"
type = "percentile"
where = 'fields.method = "POST"'
field = "fields.bytes"
percentile = 95
threshold = 5000000
min_count = 20
window = "10m"
group_by = ["fields.path"]

[[rules]]
id = "volume_for_the_hour"
type = "zscore_anomaly"
window = "15m"
seasonality = "daily"
min_history = 2
threshold = 4
EOF

# Every distinct request target (query strings and ids included) a group.
sed "s|$JOBS/reports6|$JOBS/reports-raw|" "$JOBS/six.toml" > "$JOBS/raw_path.toml"
cat >> "$JOBS/raw_path.toml" <<'EOF'

[[rules]]
id = "bytes_p95_per_target"
type = "percentile"
field = "fields.bytes"
percentile = 95
threshold = 5000000
min_count = 20
window = "10m"
group_by = ["fields.path"]
EOF

one() { # id, rule body
  printf 'name = "%s"\nnow = "end-of-data"\n[[sources]]\npath = "%s"\nformat = "combined"\nservice = "web"\n[[rules]]\nid = "%s"\n%s\n[report]\ndir = "%s"\n' \
    "$1" "$PWD/$DATA" "$1" "$2" "$JOBS/reports-$1" > "$JOBS/$1.toml"
}
one keyword 'type = "keyword_threshold"
keyword = "admin"
case_sensitive = true
threshold = 50
window = "1m"'
one where_contains "type = \"rate_spike\"
where = 'message contains \"admin\"'
threshold = 50
window = \"1m\""
one where_fields "type = \"rate_spike\"
where = 'fields.status >= 500 and fields.path ^= \"/api/\" and not fields.client_ip in 10.0.0.0/8'
threshold = 50
window = \"1m\""

ids=(six nine raw_path keyword where_contains where_fields)
declare -A T R
for id in "${ids[@]}"; do T[$id]=999999; R[$id]=0; done
for _ in 1 2 3; do
  for id in "${ids[@]}"; do
    read -r t r < <(measure "$BIN" run "$JOBS/$id.toml" -q)
    if awk -v a="$t" -v b="${T[$id]}" 'BEGIN{exit !(a<b)}'; then T[$id]=$t; fi
    [ "$r" -gt "${R[$id]}" ] && R[$id]=$r
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
printf '%-62s %8s %10s %8s\n' "rules over 1 GiB (best of 3, in turns)" "seconds" "peak RSS" "ratio"
printf '%-62s %8s %10s %8s\n' "bench/run.toml: six rules" "${T[six]}" "$((R[six]/1024)) MB" "1.00x"
printf '%-62s %8s %10s %8s\n' "six + ratio + percentile per POST path + seasonal z-score" "${T[nine]}" "$((R[nine]/1024)) MB" "$(ratio "${T[nine]}" "${T[six]}")"
printf '%-62s %8s %10s %8s\n' "six + percentile per raw request target (~all distinct)" "${T[raw_path]}" "$((R[raw_path]/1024)) MB" "$(ratio "${T[raw_path]}" "${T[six]}")"
printf '%-62s %8s %10s %8s\n' "keyword_threshold, keyword = \"admin\" (case-sensitive)" "${T[keyword]}" "$((R[keyword]/1024)) MB" "1.00x"
printf '%-62s %8s %10s %8s\n' "rate_spike, where = 'message contains \"admin\"'" "${T[where_contains]}" "$((R[where_contains]/1024)) MB" "$(ratio "${T[where_contains]}" "${T[keyword]}")"
printf '%-62s %8s %10s %8s\n' "rate_spike, where on status, path prefix and CIDR" "${T[where_fields]}" "$((R[where_fields]/1024)) MB" "$(ratio "${T[where_fields]}" "${T[keyword]}")"
