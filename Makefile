# LogTrack: `make test` is the test command; `make run` the first run.
CARGO ?= cargo
JOB ?= jobs/quickstart.toml

.PHONY: build test run bench fmt lint msrv fuzz clean db-up db-down

build:
	$(CARGO) build --release

test:
	INSTA_UPDATE=no $(CARGO) test --all-targets

run: build
	./target/release/logtrack run $(JOB)

# Benchmarks use the profiling profile (release code with line tables).
bench:
	@./bench/about.sh
	$(CARGO) build --profile profiling
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/parse.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/formats.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/templates.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/sigma.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/run.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/rules.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/load.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/citus.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/serve.sh
	LOGTRACK_BIN=./target/profiling/logtrack ./bench/overview.sh

# cargo-fuzz targets (fuzz/), each run FUZZ_SECONDS (default 30).
fuzz:
	./scripts/fuzz.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	@command -v cargo-deny >/dev/null || { echo "cargo-deny is missing: cargo install cargo-deny --locked" >&2; exit 1; }
	$(CARGO) deny check bans licenses sources

# Builds with the oldest Rust the package declares (rust-version in Cargo.toml).
msrv:
	rustup toolchain install "$$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)" --profile minimal
	CARGO_TARGET_DIR=target/msrv $(CARGO) +"$$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)" check --locked --all-targets

clean:
	$(CARGO) clean

# A local PostgreSQL for users without Docker (see docker-compose.yml otherwise).
db-up:
	./scripts/pg.sh up

db-down:
	./scripts/pg.sh down
