-- The time range of the records each run loaded, and whether detection
-- over it has been reported. A run that fails after loading (a report that
-- cannot be written, a lost connection) leaves its range undetected; the
-- next run of the job detects over it too, so its alerts are still new.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS data_from timestamptz;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS data_to   timestamptz;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS detected  boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN runs.detected IS 'false until a report of this run''s alerts was written';
