-- Which version of the template miner wrote a template. Templates written
-- before version 2 (values with units, quoted requests, words that take a
-- few values) are mined again, as messages, by the version that reads them:
-- their rows take the new text and keep their counts and first sighting.
ALTER TABLE templates ADD COLUMN IF NOT EXISTS miner smallint NOT NULL DEFAULT 1;
ALTER TABLE templates ALTER COLUMN miner SET DEFAULT 2;
