-- The dashboard at scale, and user names without regard to case.

-- Records per minute, and per hour, service and severity (`none` for
-- records without one), kept by loading in the same transaction as the
-- rows themselves, so the counts are exact: the dashboard's overview reads
-- these instead of grouping the records of its span (the hours for spans
-- of more than two days). `db prune` deletes the counts of the days it
-- drops.
CREATE TABLE IF NOT EXISTS log_minutes (
    minute   timestamptz NOT NULL,
    service  text        NOT NULL,
    severity text        NOT NULL,
    records  bigint      NOT NULL,
    PRIMARY KEY (minute, service, severity)
);
COMMENT ON TABLE log_minutes IS 'Records per minute, service and severity, kept exact by loading';
CREATE TABLE IF NOT EXISTS log_hours (
    hour     timestamptz NOT NULL,
    service  text        NOT NULL,
    severity text        NOT NULL,
    records  bigint      NOT NULL,
    PRIMARY KEY (hour, service, severity)
);
COMMENT ON TABLE log_hours IS 'Records per hour, service and severity, kept exact by loading';

INSERT INTO log_minutes (minute, service, severity, records)
SELECT 'epoch'::timestamptz + floor(extract(epoch FROM ts) / 60) * interval '1 minute',
       service, coalesce(severity, 'none'), count(*)
FROM logs GROUP BY 1, 2, 3
ON CONFLICT (minute, service, severity) DO UPDATE SET records = EXCLUDED.records;
INSERT INTO log_hours (hour, service, severity, records)
SELECT 'epoch'::timestamptz + floor(extract(epoch FROM minute) / 3600) * interval '1 hour',
       service, severity, sum(records)
FROM log_minutes GROUP BY 1, 2, 3
ON CONFLICT (hour, service, severity) DO UPDATE SET records = EXCLUDED.records;

-- The logs page's text filter can be answered from a trigram index
-- (`logtrack db text-index`): not made here, since every load maintains it.

-- User names are unique without regard to case (`alice`, `Alice` and
-- `alice ` looked the same in listings). Where such names exist already,
-- the index cannot be made: a warning says so, and `user add` refuses new
-- clashes all the same.
DO $$
BEGIN
    CREATE UNIQUE INDEX IF NOT EXISTS users_name_folded ON users (lower(username));
EXCEPTION WHEN unique_violation THEN
    RAISE WARNING 'user names that differ only in case exist: rename or remove them (logtrack user list)';
END $$;
