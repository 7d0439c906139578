-- An alert's identity includes its job: two jobs may use the same rule id
-- (each job's "errors" rule) and must not overwrite each other's alerts.
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey;
ALTER TABLE alerts ADD PRIMARY KEY (job, rule_id, group_key, window_start);
