# LogTrack: `make test` is the test command; `make run` the first run.
CARGO ?= cargo
JOB ?= jobs/quickstart.toml

.PHONY: build test run bench fmt lint clean

build:
	$(CARGO) build --release

test:
	INSTA_UPDATE=no $(CARGO) test --all-targets

run: build
	./target/release/logtrack run $(JOB)

bench: build
	./bench/parse.sh
	./bench/run.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
