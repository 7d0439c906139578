-- The format each file was read as, so that `logtrack report` can show
-- sources as they were loaded (rows loaded before this are "unknown").
ALTER TABLE checkpoints ADD COLUMN IF NOT EXISTS format text;
COMMENT ON COLUMN checkpoints.format IS 'The format the file was parsed as (auto resolved)';
