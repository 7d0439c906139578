-- Incidents and the notification outbox.

-- An incident is one rule and one group of one job while it keeps firing:
-- the alerts that join it are its history (alerts.incident_id). Times are
-- the data's: first_window .. last_window_end; opened_at/resolved_at are
-- the wall clock of the runs that opened and resolved it.
CREATE TABLE IF NOT EXISTS incidents (
    id                bigserial   PRIMARY KEY,
    job               text        NOT NULL,
    rule_id           text        NOT NULL,
    group_key         jsonb       NOT NULL,
    rule_type         text        NOT NULL,
    severity          text        NOT NULL,
    state             text        NOT NULL DEFAULT 'open'
                      CHECK (state IN ('open', 'acknowledged', 'resolved')),
    first_window      timestamptz NOT NULL,
    last_window_start timestamptz NOT NULL,
    last_window_end   timestamptz NOT NULL,
    occurrences       bigint      NOT NULL DEFAULT 1,
    runs              integer     NOT NULL DEFAULT 1,
    last_run          bigint,
    count             bigint      NOT NULL,
    message           text        NOT NULL,
    evidence          jsonb       NOT NULL DEFAULT '[]',
    opened_at         timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    resolved_window   timestamptz,
    acknowledged_by   text,
    acknowledged_at   timestamptz
);
COMMENT ON TABLE incidents IS 'One rule and group while it keeps firing; alerts.incident_id is its history';
-- At most one live (not resolved) incident per job, rule and group.
CREATE UNIQUE INDEX IF NOT EXISTS incidents_live
    ON incidents (job, rule_id, group_key) WHERE state <> 'resolved';
CREATE INDEX IF NOT EXISTS incidents_last ON incidents (last_window_end DESC, id DESC);

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS incident_id bigint REFERENCES incidents (id);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts (incident_id);

-- Notifications to send: written in the transaction that stores a run's
-- alerts, sent after it commits, kept until a receiver took them (sent_at)
-- or they were given up. `id_key` is the idempotency key a receiver sees.
-- `at` is the data time the notification was made at (repeat_interval
-- counts from it).
CREATE TABLE IF NOT EXISTS outbox (
    id           bigserial   PRIMARY KEY,
    id_key       text        NOT NULL UNIQUE,
    job          text        NOT NULL,
    receiver     text        NOT NULL,
    run_id       bigint,
    event        text        NOT NULL,
    incident_id  bigint      REFERENCES incidents (id) ON DELETE SET NULL,
    payload      jsonb       NOT NULL,
    at           timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     integer     NOT NULL DEFAULT 0,
    next_attempt timestamptz NOT NULL DEFAULT now(),
    last_error   text,
    sent_at      timestamptz,
    gave_up_at   timestamptz
);
COMMENT ON TABLE outbox IS 'Notifications, kept until delivered or given up';
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (job, next_attempt)
    WHERE sent_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_incident ON outbox (incident_id, receiver);
