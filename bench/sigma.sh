#!/usr/bin/env bash
# Sigma benchmark (make bench): a job whose only rule is `type = "sigma"`
# over every shared SigmaHQ rule for the source (all statuses), run in
# memory over ~300 MB of CloudTrail and ~1 GiB of combined access log,
# against `logtrack parse` of the same file (best of three each, in
# turns), with peak RSS. The issue's budget: within 2x of parse.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${BENCH_SIZE:-1G}
BIN=${LOGTRACK_BIN:-./target/release/logtrack}
mkdir -p bench-data
ACCESS=bench-data/access_${SIZE}.log
CT=bench-data/cloudtrail_${BENCH_CT_SIZE:-300M}.json
[ -f "$ACCESS" ] || python3 bench/gen_logs.py --size "$SIZE" --seed 42 --format combined --out "$ACCESS"
[ -f "$CT" ] || python3 bench/gen_logs.py --cloudtrail --size "${BENCH_CT_SIZE:-300M}" --seed 7 --out "$CT"
root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
job() { # name format file rules
  cat > "$tmp/$1.toml" <<TOML
name = "sigma-bench-$1"
now = "end-of-data"
[[sources]]
path = "$root/$3"
format = "$2"
[[rules]]
id = "sigma"
type = "sigma"
path = [$4]
status = ["stable", "test", "experimental", "deprecated", "unsupported"]
[report]
dir = "$tmp/report-$1"
formats = ["json"]
TOML
}
job cloudtrail cloudtrail "$CT" "\"$root/samples/sigma/rules/cloud\""
job web combined "$ACCESS" "\"$root/samples/sigma/rules/web\", \"$root/samples/sigma/rules-emerging-threats\""
measure() { /usr/bin/time -f "%e %M" -o /tmp/logtrack-bench.time "$@" > /dev/null 2>/tmp/logtrack-bench.err || true; tail -1 /tmp/logtrack-bench.time; }
declare -A T R
for k in cloudtrail-parse cloudtrail-sigma web-parse web-sigma; do T[$k]=999999; R[$k]=0; done
for _ in 1 2 3; do
  for f in cloudtrail web; do
    file=$CT; fmt=cloudtrail; [ "$f" = web ] && { file=$ACCESS; fmt=combined; }
    read -r t r < <(measure "$BIN" parse --format "$fmt" "$file")
    [ "$(awk -v a="$t" -v b="${T[$f-parse]}" 'BEGIN{print (a<b)}')" = 1 ] && T[$f-parse]=$t
    [ "$r" -gt "${R[$f-parse]}" ] && R[$f-parse]=$r
    read -r t r < <(measure "$BIN" -q run "$tmp/$f.toml")
    [ "$(awk -v a="$t" -v b="${T[$f-sigma]}" 'BEGIN{print (a<b)}')" = 1 ] && T[$f-sigma]=$t
    [ "$r" -gt "${R[$f-sigma]}" ] && R[$f-sigma]=$r
  done
done
rules_ct=$(find samples/sigma/rules/cloud -name '*.yml' | wc -l)
rules_web=$(find samples/sigma/rules/web samples/sigma/rules-emerging-threats -name '*.yml' | wc -l)
alerts() { python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['alerts']))" "$tmp/report-$1/report.json"; }
printf '%-44s %8s %10s %10s %8s\n' "logtrack (best of 3, in turns)" "seconds" "peak RSS" "vs parse" "budget"
for f in cloudtrail web; do
  n=$rules_ct; [ "$f" = web ] && n=$rules_web
  printf '%-44s %8s %10s %10s %8s\n' "  $f: parse" "${T[$f-parse]}" "$((R[$f-parse]/1024)) MB" "1.00x" ""
  ratio=$(awk -v a="${T[$f-sigma]}" -v b="${T[$f-parse]}" 'BEGIN{printf "%.2fx", a/b}')
  printf '%-44s %8s %10s %10s %8s\n' "  $f: run, $n Sigma rule files ($(alerts $f) alerts)" "${T[$f-sigma]}" "$((R[$f-sigma]/1024)) MB" "$ratio" "2x"
done
