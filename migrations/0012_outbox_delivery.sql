-- Delivery as it happened, per notification: a row the receiver refused
-- for good is parked (`refused`, given up at once, sent again only by
-- `logtrack notify --requeue`); a copy of an e-mail's row that holds only
-- the recipients a server refused carries them in `recipients` (NULL: all
-- of the receiver's).
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS refused boolean NOT NULL DEFAULT false;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS recipients text[];
