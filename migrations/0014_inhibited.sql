-- An incident kept quiet by an [[inhibit]] rule: the incident that
-- inhibited it when its last notification would have been made (NULL when
-- it was told, or never inhibited). Stored and shown, not sent.
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS inhibited_by bigint;
