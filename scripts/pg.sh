#!/usr/bin/env bash
# make db-up / db-down: a local PostgreSQL from the machine's own binaries,
# data in .pgdata/ (as the postgres user when run as root: PostgreSQL
# refuses root). Prints the URL to export.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${LOGTRACK_PG_PORT:-54329}
BIN=${LOGTRACK_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -n "$BIN" ] && [ -x "$BIN/initdb" ] || BIN=$(dirname "$(command -v initdb)")
DIR=$PWD/.pgdata
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- sh -c "$1"; else sh -c "$1"; fi; }
case "${1:-}" in
  up)
    if [ ! -d "$DIR/data" ]; then
      mkdir -p "$DIR"
      [ "$(id -u)" = 0 ] && chown postgres "$DIR"
      as_pg "'$BIN/initdb' -D '$DIR/data' -U postgres -A trust -E UTF8 >'$DIR/initdb.log'"
    fi
    as_pg "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w -o \"-k '$DIR' -p $PORT -c listen_addresses=127.0.0.1\" start"
    echo "export LOGTRACK_DATABASE_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
  down)
    as_pg "'$BIN/pg_ctl' -D '$DIR/data' -m fast stop"
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
