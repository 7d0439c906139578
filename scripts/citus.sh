#!/usr/bin/env bash
# Builds the Citus extension from vendor/ and installs it into the local
# PostgreSQL when it is not there yet (the cluster tests start a
# coordinator and two workers from it). Needs, from Debian's packages:
#   postgresql-server-dev-NN libkrb5-dev liblz4-dev libzstd-dev
# (.ci/run installs them). Prints where the extension is.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=13.2.2
SHA256=dc43c63e32a6c86456409dd5a54e2d76c73253b8f4026e689fbc3028a638d0ae
TARBALL=${CITUS_TARBALL:-vendor/citus-$VERSION.tar.gz}
BIN=${LOGTRACK_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PG_CONFIG=${PG_CONFIG:-$BIN/pg_config}
if [ ! -x "$PG_CONFIG" ]; then
  PG_CONFIG=$(command -v pg_config || true)
fi
if [ -z "$PG_CONFIG" ] || ! "$PG_CONFIG" --pgxs >/dev/null 2>&1; then
  echo "citus: pg_config with PGXS is missing: install postgresql-server-dev-<version>" >&2
  exit 1
fi
LIBDIR=$("$PG_CONFIG" --pkglibdir)
if [ -f "$LIBDIR/citus.so" ] && [ "${1:-}" != "--force" ]; then
  echo "citus: installed ($LIBDIR/citus.so)"
  exit 0
fi
echo "$SHA256  $TARBALL" | sha256sum -c --quiet - || {
  echo "citus: $TARBALL is missing or not the expected source" >&2
  exit 1
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$TARBALL" -C "$WORK"
cd "$WORK/citus-$VERSION"
# PostgreSQL 15's later minor releases export have_createdb_privilege(),
# which Citus 13.2.2 defines itself for 15 (a static function, then a
# compile error): use the server's when its headers declare it.
if grep -q "extern bool have_createdb_privilege" "$("$PG_CONFIG" --includedir-server)/commands/dbcommands.h" 2>/dev/null; then
  perl -0pi -e 's/static inline bool\nhave_createdb_privilege\(void\)\n\{.*?\n\}\n/extern bool have_createdb_privilege(void);\n/s' \
    src/include/pg_version_compat.h
fi
echo "citus: building $VERSION against $("$PG_CONFIG" --version) (about 2 minutes on 2 cores)"
./configure --without-libcurl PG_CONFIG="$PG_CONFIG" >configure.log 2>&1 || {
  tail -20 configure.log >&2
  exit 1
}
# with_llvm=no: no LLVM bitcode (JIT inlining), which the tests do not need.
make -j"$(nproc)" with_llvm=no >build.log 2>&1 || { tail -30 build.log >&2; exit 1; }
make with_llvm=no install >install.log 2>&1 || { tail -20 install.log >&2; exit 1; }
echo "citus: installed ($LIBDIR/citus.so)"
