# LogTrack: `make test` is the test command; `make run` the first run.
CARGO ?= cargo
JOB ?= jobs/quickstart.toml

.PHONY: build test run bench fmt lint fuzz clean db-up db-down

build:
	$(CARGO) build --release

test:
	INSTA_UPDATE=no $(CARGO) test --all-targets

run: build
	./target/release/logtrack run $(JOB)

bench: build
	./bench/parse.sh
	./bench/run.sh
	./bench/load.sh

# cargo-fuzz targets (fuzz/), each run FUZZ_SECONDS (default 30).
fuzz:
	./scripts/fuzz.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean

# A local PostgreSQL for users without Docker (see docker-compose.yml otherwise).
db-up:
	./scripts/pg.sh up

db-down:
	./scripts/pg.sh down
