-- File identity that holds at every size (see src/source/identity.rs).
--
-- Version 1 keyed a checkpoint by a hash of the file's first KiB: a file
-- shorter than that changed identity as it grew, and two files with equal
-- heads shared one checkpoint. A checkpoint is now a row of its own (id),
-- found by the hash of the head it recorded and confirmed by the hash of
-- the bytes just before its offset, the file's device and inode, its path
-- and whether it was compressed.
--
-- Old rows are kept: their fingerprint was the same FNV-1a hash over the
-- first fp_len bytes (which may pass the offset: a partial last line); they
-- have no tail hash, device or inode and are matched by that head alone, as
-- before, until their next load rewrites them. Citus: distributed by
-- ingest_host, which is in the primary key.
ALTER TABLE checkpoints RENAME TO checkpoints_v1;

CREATE TABLE checkpoints (
    ingest_host  text        NOT NULL,
    id           bigserial,
    path         text        NOT NULL,
    dev          bigint,
    inode        bigint,
    compressed   boolean     NOT NULL DEFAULT false,
    byte_offset  bigint      NOT NULL,
    lines        bigint      NOT NULL,
    head_len     integer     NOT NULL,
    head_hash    bigint      NOT NULL,
    tail_hash    bigint,
    records      bigint      NOT NULL DEFAULT 0,
    rejected     bigint      NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ingest_host, id)
);
CREATE INDEX checkpoints_head ON checkpoints (ingest_host, head_hash);
COMMENT ON TABLE checkpoints IS 'How far each input file was loaded, and how to recognise it again';
COMMENT ON COLUMN checkpoints.head_hash IS 'FNV-1a 64 of the first head_len bytes (head_len = least of 1024 and byte_offset)';
COMMENT ON COLUMN checkpoints.tail_hash IS 'FNV-1a 64 of the up to 1024 bytes before byte_offset';

INSERT INTO checkpoints (ingest_host, path, byte_offset, lines, head_len, head_hash, records, rejected, updated_at)
SELECT ingest_host, path, byte_offset, lines, fp_len, ('x' || fingerprint)::bit(64)::bigint,
       records, rejected, updated_at
FROM checkpoints_v1;

DROP TABLE checkpoints_v1;
