-- Keys that a Citus cluster can enforce (`logtrack db init --distributed`):
-- every unique key and foreign key of a distributed table holds its
-- distribution column. Alerts, incidents and the outbox are distributed by
-- `job`, so their keys start with it; on one server they are as strict as
-- before, since `id` alone was already unique by its sequence.
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_incident_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_incident_id_fkey;

ALTER TABLE incidents DROP CONSTRAINT incidents_pkey;
ALTER TABLE incidents ADD PRIMARY KEY (job, id);
CREATE INDEX IF NOT EXISTS incidents_id ON incidents (id);

DROP INDEX IF EXISTS alerts_id;
CREATE UNIQUE INDEX IF NOT EXISTS alerts_job_id ON alerts (job, id);
CREATE INDEX IF NOT EXISTS alerts_id ON alerts (id);
ALTER TABLE alerts ADD CONSTRAINT alerts_incident_fkey
    FOREIGN KEY (job, incident_id) REFERENCES incidents (job, id);

ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
ALTER TABLE outbox ADD PRIMARY KEY (job, id);
ALTER TABLE outbox DROP CONSTRAINT outbox_id_key_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_id_key UNIQUE (job, id_key);
ALTER TABLE outbox ADD CONSTRAINT outbox_incident_fkey
    FOREIGN KEY (job, incident_id) REFERENCES incidents (job, id);
-- (No ON DELETE SET NULL, which Citus refuses on a key holding the
-- distribution column: incidents are never deleted.)
