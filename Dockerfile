# A small image of the LogTrack binary:
#   docker build -t logtrack .
#   docker run --rm -v "$PWD:/work" -w /work logtrack run jobs/quickstart.toml
# Build stage: the release binary (no debug info).
FROM rust:1.88-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked

# Run stage: the binary and the CA roots (for sslmode=verify-ca/verify-full).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/logtrack --create-home logtrack
COPY --from=build /src/target/release/logtrack /usr/local/bin/logtrack
USER logtrack
WORKDIR /var/lib/logtrack
ENTRYPOINT ["/usr/local/bin/logtrack"]
CMD ["--help"]
