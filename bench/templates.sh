#!/usr/bin/env bash
# Templates benchmark (make bench): `logtrack parse --templates` against
# `logtrack parse` over ~1 GiB of combined access log and ~1 GiB of raw
# HDFS lines, in turns (best of three each), with peak RSS. The issue's
# budget: within 1.5x of parse without templates, under 200 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${BENCH_SIZE:-1G}
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
mkdir -p bench-data
ACCESS=bench-data/access_${SIZE}.log
HDFS=bench-data/hdfs_${SIZE}.log
[ -f "$ACCESS" ] || python3 bench/gen_logs.py --size "$SIZE" --seed 42 --format combined --out "$ACCESS"
[ -f "$HDFS" ] || python3 bench/gen_logs.py --hdfs --size "$SIZE" --seed 42 --out "$HDFS"

measure() { /usr/bin/time -f "%e %M" -o /tmp/logtrack-bench.time "$@" > /dev/null 2>/tmp/logtrack-bench.err || true; tail -1 /tmp/logtrack-bench.time; }
declare -A T R
for k in combined-plain combined-templates hdfs-plain hdfs-templates; do T[$k]=999999; R[$k]=0; done
for _ in 1 2 3; do
  for f in combined hdfs; do
    file=$ACCESS; [ "$f" = hdfs ] && file=$HDFS
    for mode in plain templates; do
      extra=(); [ "$mode" = templates ] && extra=(--templates)
      read -r t r < <(measure "$BIN" parse --format "$f" "${extra[@]}" "$file")
      k=$f-$mode
      if awk -v a="$t" -v b="${T[$k]}" 'BEGIN{exit !(a<b)}'; then T[$k]=$t; fi
      [ "$r" -gt "${R[$k]}" ] && R[$k]=$r
    done
  done
done
printf '%-36s %8s %10s %14s %8s\n' "logtrack parse (best of 3, in turns)" "seconds" "peak RSS" "vs no templates" "budget"
for f in combined hdfs; do
  for mode in plain templates; do
    k=$f-$mode
    ratio=$(awk -v a="${T[$k]}" -v b="${T[$f-plain]}" 'BEGIN{printf "%.2fx", a/b}')
    budget=""; [ "$mode" = templates ] && budget="1.5x"
    printf '%-36s %8s %10s %14s %8s\n' "  $f, $mode" "${T[$k]}" "$((R[$k]/1024)) MB" "$ratio" "$budget"
  done
done
