#!/usr/bin/env bash
# make fuzz: builds the cargo-fuzz targets (fuzz/) and runs each for
# FUZZ_SECONDS (default 30; FUZZ_SEED fixes libFuzzer's seed) from a seed corpus made of tests/data, the test
# fixtures and the jobs. A crash leaves its input in fuzz/artifacts/<target>/
# and fails the run; turn it into a test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-30}
targets=${FUZZ_TARGETS:-"parsers auth_events auth_address line_framer json_framer job_file templates"}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo fuzz passes nightly-only flags (sanitizer coverage); the stable
# toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

corpus=fuzz/corpus
# seed TARGET SELECTOR FILE...: the first input byte picks a format or a
# chunk size in every target.
seed() {
  local target=$1 sel=$2
  shift 2
  mkdir -p "$corpus/$target"
  for f in "$@"; do
    { printf "\\x$sel"; head -c 65536 "$f"; } >"$corpus/$target/seed-$sel-$(basename "$f")"
  done
}
# Parser formats by selector: 00 common, 01 combined, 02 clf, 03 hdfs,
# 04 hdfs-csv, 05 cloudtrail, 06 auto, (07 apache:, 08 nginx:), 09 syslog,
# 0a journald, 0b json, 0c logfmt, 0d apache-error, 0e nginx-error,
# 0f regex: (2f: with ts_format).
seed parsers 00 tests/fixtures/common/*.log
seed parsers 01 tests/fixtures/combined/*.log tests/data/filebeat-nginx/*.log tests/data/elastic-apache/apache_logs_*
seed parsers 02 tests/data/filebeat-apache/*.log
seed parsers 03 tests/fixtures/hdfs/*.log tests/data/loghub-hdfs/HDFS_2k.log
seed parsers 04 tests/fixtures/hdfs-csv/*.csv tests/data/loghub-hdfs/*.csv
seed parsers 05 tests/fixtures/cloudtrail/* tests/data/cloudtrail/*.json
seed parsers 06 samples/web/access.log samples/hdfs/hdfs.log samples/auth/auth.log samples/app/app.jsonl
seed parsers 09 tests/fixtures/syslog/*.log tests/data/loghub-openssh/OpenSSH_head150.log
seed parsers 0a tests/fixtures/journald/*.jsonl
seed parsers 0b tests/fixtures/json/*.jsonl samples/app/app.jsonl
seed parsers 0c tests/fixtures/logfmt/*.log
seed parsers 0d tests/fixtures/apache-error/*.log tests/data/loghub-apache-error/Apache_head30.log
seed parsers 0e tests/fixtures/nginx-error/*.log
seed parsers 2f tests/fixtures/regex/*.log
seed auth_events 00 tests/data/loghub-openssh/OpenSSH_head150.log
seed auth_events 02 tests/fixtures/syslog/mixed.log
# auth_address: the first byte picks a shape; the rest is the client's text.
seed auth_address 00 tests/data/fail2ban-sshd/sshd
seed auth_address 04 tests/data/loghub-openssh/OpenSSH_head150.log
seed line_framer 05 tests/fixtures/combined/*.log tests/data/loghub-apache-error/*.log
seed line_framer 85 tests/fixtures/hdfs/*.log
seed json_framer 07 tests/fixtures/cloudtrail/* tests/data/cloudtrail/*.json
seed json_framer 87 tests/fixtures/cloudtrail/identities.jsonl
seed job_file 00 jobs/*.toml bench/run.toml config/logtrack.toml
seed templates 03 tests/data/loghub-openssh/OpenSSH_head150.log tests/fixtures/syslog/mixed.log tests/fixtures/hdfs/awkward.log tests/data/loghub-apache-error/Apache_head30.log
seed job_file 02 jobs/legacy/rules_config.json

# Every target must build: a build error fails the run (it is not a crash
# and would leave no artifact).
for t in $targets; do
  cargo fuzz build -O "$t"
done
for t in $targets; do
  echo "== fuzz $t for ${secs}s"
  log=$(mktemp)
  status=0
  cargo fuzz run -O "$t" "$corpus/$t" -- -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 ${FUZZ_SEED:+-seed=$FUZZ_SEED} >"$log" 2>&1 || status=$?
  grep -E '^(==|INFO: Seed|#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|.*panicked)' "$log" || true
  if [ -n "$(ls -A "fuzz/artifacts/$t" 2>/dev/null)" ]; then
    echo "fuzz $t: crash inputs in fuzz/artifacts/$t" >&2
    exit 1
  fi
  if [ "$status" -ne 0 ]; then
    echo "fuzz $t failed (exit $status):" >&2
    tail -20 "$log" >&2
    exit 1
  fi
  rm -f "$log"
done
