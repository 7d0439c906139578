#!/usr/bin/env bash
# Formats benchmark (make bench): `logtrack parse` over ~1 GiB of each of
# the formats added after the access log, against the same run over ~1 GiB
# of combined access log, in turns (best of three each). The issue's
# budget: syslog at most 1.5x the access log's time, JSON lines 2.5x, a
# typical 6-capture regex: 3x, a Java log with its stack traces joined
# (`--multiline java`): 2x.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${BENCH_SIZE:-1G}
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
mkdir -p bench-data
ACCESS=bench-data/access_${SIZE}.log
[ -f "$ACCESS" ] || python3 bench/gen_logs.py --size "$SIZE" --seed 42 --format combined --out "$ACCESS"
for kind in syslog json app java; do
  f=bench-data/${kind}_${SIZE}.log
  [ -f "$f" ] || { echo "generating $f ..." >&2; python3 bench/gen_formats.py "$kind" --size "$SIZE" --seed 42 --out "$f"; }
done
PATTERN='regex:^(?P<ts>\S+ \S+) (?P<severity>[A-Z]+) +\[(?P<thread>[^\]]+)\] (?P<user>[^@ ]+)@(?P<client_ip>\S+) (?P<service>\w+): (?P<message>.*)$'

measure() { /usr/bin/time -f "%e %M" -o /tmp/logtrack-bench.time "$@" > /dev/null 2>/tmp/logtrack-bench.err || true; tail -1 /tmp/logtrack-bench.time; }
JAVA='regex:^(?P<ts>\S+) (?P<severity>\w+) \[(?P<thread>[^\]]+)\] (?P<service>\S+) - (?P<message>.*)$'
names=(combined syslog json regex java)
files=("$ACCESS" "bench-data/syslog_${SIZE}.log" "bench-data/json_${SIZE}.log" "bench-data/app_${SIZE}.log" "bench-data/java_${SIZE}.log")
formats=(combined syslog json "$PATTERN" "$JAVA")
budget=(1.0 1.5 2.5 3.0 2.0)
declare -A T R
for n in "${names[@]}"; do T[$n]=999999; R[$n]=0; done
for _ in 1 2 3; do
  for i in 0 1 2 3 4; do
    n=${names[$i]}
    extra=()
    [ "$n" = regex ] && extra=(--ts-format '%Y-%m-%d %H:%M:%S,%3f')
    [ "$n" = java ] && extra=(--multiline java)
    read -r t r < <(measure "$BIN" parse --format "${formats[$i]}" "${extra[@]}" "${files[$i]}")
    if awk -v a="$t" -v b="${T[$n]}" 'BEGIN{exit !(a<b)}'; then T[$n]=$t; fi
    [ "$r" -gt "${R[$n]}" ] && R[$n]=$r
    # The generated access log has its malformed lines; the others have none.
    [ "$n" = combined ] || grep -q " 0 rejected" /tmp/logtrack-bench.err || { echo "$n: rejects or failure:"; tail -3 /tmp/logtrack-bench.err; }
  done
done
printf '%-34s %8s %8s %10s %10s %8s\n' "logtrack parse (best of 3, in turns)" "MB" "seconds" "peak RSS" "vs access" "budget"
for i in 0 1 2 3 4; do
  n=${names[$i]}
  mb=$(awk -v b="$(stat -c %s "${files[$i]}")" 'BEGIN{printf "%.0f", b/1e6}')
  # Time per byte against the access log's, so that sizes need not match.
  ratio=$(awk -v t="${T[$n]}" -v m="$mb" -v t0="${T[combined]}" -v m0="$(awk -v b="$(stat -c %s "$ACCESS")" 'BEGIN{printf "%.0f", b/1e6}')" 'BEGIN{printf "%.2fx", (t/m)/(t0/m0)}')
  printf '%-34s %8s %8s %10s %10s %8s\n' "  $n" "$mb" "${T[$n]}" "$((R[$n]/1024)) MB" "$ratio" "${budget[$i]}x"
done
