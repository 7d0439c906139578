-- Silences: while one is active (starts_at <= the wall clock < ends_at),
-- incidents whose labels its matcher matches are stored and shown but not
-- notified; an incident still open when its silence ends is notified then,
-- once. `matcher` is a `where` expression over an alert's labels (rule,
-- severity, job, service, group.<key>). A silence made with `logtrack
-- silence add` or on the dashboard applies to every job (`job` NULL); one
-- written in a job file (`origin` 'job', its place among the file's
-- [[silence]] blocks in `ordinal`) applies to that job and is kept in step
-- with the file by each of its runs. Expiring a silence sets `ends_at` to
-- the time it was expired, and who did it.
CREATE TABLE IF NOT EXISTS silences (
    id          bigserial   PRIMARY KEY,
    job         text,
    origin      text        NOT NULL CHECK (origin IN ('cli', 'dashboard', 'job')),
    ordinal     integer,
    matcher     text        NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    comment     text        NOT NULL DEFAULT '',
    expired_by  text,
    CHECK (ends_at >= starts_at),
    CHECK ((origin = 'job') = (job IS NOT NULL AND ordinal IS NOT NULL))
);
COMMENT ON TABLE silences IS 'Incidents a matcher names are not notified from starts_at to ends_at';
CREATE UNIQUE INDEX IF NOT EXISTS silences_of_jobs ON silences (job, ordinal) WHERE origin = 'job';
CREATE INDEX IF NOT EXISTS silences_ends ON silences (ends_at DESC, id DESC);

-- An incident whose first notification was held back (silenced or
-- inhibited): it is told ("open") once nothing holds it while it is still
-- open; if it resolves first, it is never told. `silenced_by` names the
-- silence that held it at its last notification (NULL when none did).
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS held boolean NOT NULL DEFAULT false;
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS silenced_by bigint;
-- The incident's `service` label (its rule's service, or its group's), so
-- that a matcher can be tried on a stored incident as on an alert.
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS service text;
