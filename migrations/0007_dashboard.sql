-- The dashboard (`logtrack serve`).

-- Alerts get a stable number for their page's address; existing alerts
-- are numbered by this ALTER.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS id bigserial;
CREATE UNIQUE INDEX IF NOT EXISTS alerts_id ON alerts (id);

-- The logs page lists the newest records first across services, a page
-- at a time (keyset on ts): that needs ts ordered without a service.
CREATE INDEX IF NOT EXISTS logs_ts ON logs (ts);

-- Server-side sessions: the cookie holds a random token, this table its
-- BLAKE2b hash (a copy of the table does not sign anyone in), the user,
-- the form token (CSRF) and when the session ends.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  bytea       PRIMARY KEY,
    username    text        NOT NULL REFERENCES users (username) ON DELETE CASCADE ON UPDATE CASCADE,
    csrf        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
