-- LogTrack schema, version 1. Applied by `logtrack db init|migrate` (and by
-- `run`/`ingest` when pending), recorded in schema_migrations. Never edit an
-- applied migration: add the next numbered file.
--
-- Citus: `logs` and `rejects` are distributed by `service`/`source_path`
-- (no constraint spans rows of different services), `checkpoints` by
-- `ingest_host`; the small tables (`rules`, `users`) can be reference tables.
-- Nothing here needs a cross-shard check.

-- One row per record, partitioned by day on the event time so that
-- retention (`db prune`) drops partitions instead of deleting rows.
-- Partitions are created on demand by the loader (logs_YYYYMMDD).
CREATE TABLE IF NOT EXISTS logs (
    ts           timestamptz NOT NULL,
    service      text        NOT NULL,
    host         text,
    severity     text,
    message      text        NOT NULL,
    user_name    text,
    fields       jsonb       NOT NULL,
    source_path  text        NOT NULL,
    source_line  bigint      NOT NULL,
    source_index bigint,
    ingest_host  text        NOT NULL
) PARTITION BY RANGE (ts);
COMMENT ON TABLE logs IS 'Normalized log records, one per line/event, partitioned by day of ts';
COMMENT ON COLUMN logs.source_index IS 'Position of a CloudTrail event inside its file (null for line formats)';

-- Queries by time, by service and time (detectors, CLI, dashboard).
CREATE INDEX IF NOT EXISTS logs_service_ts ON logs (service, ts);

-- Where each input file got to, committed in the same transaction as its
-- rows: a re-run skips what is loaded and resumes a file that grew.
-- Keyed by host and fingerprint (a hash of the file's first bytes, read
-- through any compression), so a rotated file found under a new name, or
-- compressed after rotation, is recognised and not loaded twice.
CREATE TABLE IF NOT EXISTS checkpoints (
    ingest_host  text        NOT NULL,
    fingerprint  text        NOT NULL,
    fp_len       integer     NOT NULL,
    path         text        NOT NULL,
    byte_offset  bigint      NOT NULL,
    lines        bigint      NOT NULL,
    records      bigint      NOT NULL,
    rejected     bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ingest_host, fingerprint)
);
COMMENT ON COLUMN checkpoints.fp_len IS 'How many leading bytes the fingerprint covers (short files grow)';

CREATE TABLE IF NOT EXISTS rejects (
    source_path  text        NOT NULL,
    source_line  bigint      NOT NULL,
    source_index bigint,
    byte_offset  bigint      NOT NULL,
    reason       text        NOT NULL,
    ingest_host  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS rejects_path ON rejects (source_path, source_line);

-- Alerts, unique on their identity (rule id, group, window start): a
-- re-run stores no duplicate, a silence lasting across runs is one alert.
CREATE TABLE IF NOT EXISTS alerts (
    rule_id       text        NOT NULL,
    rule_type     text        NOT NULL,
    severity      text        NOT NULL,
    group_key     jsonb       NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    count         bigint      NOT NULL,
    message       text        NOT NULL,
    evidence      jsonb       NOT NULL,
    job           text        NOT NULL,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    acknowledged_by text,
    acknowledged_at timestamptz,
    PRIMARY KEY (rule_id, group_key, window_start)
);
CREATE INDEX IF NOT EXISTS alerts_window ON alerts (window_start);

-- The job's rules as last run.
CREATE TABLE IF NOT EXISTS rules (
    job        text  NOT NULL,
    rule_id    text  NOT NULL,
    rule_type  text  NOT NULL,
    definition jsonb NOT NULL,
    PRIMARY KEY (job, rule_id)
);

-- Each job run with its counts.
CREATE TABLE IF NOT EXISTS runs (
    id          bigserial   PRIMARY KEY,
    job         text        NOT NULL,
    ingest_host text        NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    status      text        NOT NULL,
    records     bigint      NOT NULL DEFAULT 0,
    rejected    bigint      NOT NULL DEFAULT 0,
    alerts      bigint      NOT NULL DEFAULT 0,
    duration_ms bigint
);
CREATE INDEX IF NOT EXISTS runs_job_started ON runs (job, started_at DESC);

CREATE TABLE IF NOT EXISTS users (
    username      text        PRIMARY KEY,
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('user', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN users.password_hash IS 'argon2id PHC string';
