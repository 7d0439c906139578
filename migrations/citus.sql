-- `logtrack db init --distributed`: how the tables are spread over a Citus
-- cluster (after the numbered migrations; run again, it does nothing).
--
-- * logs, checkpoints and rejects are distributed by ingest_host and
--   co-located: the rows one host loads from a file, the file's checkpoint
--   and its rejects live in one shard group, so a part's COPY and its
--   checkpoint update commit on one worker (no two-phase commit), and
--   hosts load in parallel on different shards.
-- * log_minutes, log_hours and templates are distributed by service: the
--   overview and the template listings read one service at a time.
-- * alerts, incidents, outbox and known_values are distributed by job (a
--   job's detection writes one shard group), their keys hold job
--   (migration 0011).
-- * users, sessions, rules, runs, silences and schema_migrations stay on the
--   coordinator as ordinary tables: they are small, read by the coordinator
--   only, and the dashboard's session update needs what Citus refuses on
--   distributed and reference tables (now() beside column references).
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        (1, 'logs', 'ingest_host', 'default'),
        (2, 'checkpoints', 'ingest_host', 'logs'),
        (3, 'rejects', 'ingest_host', 'logs'),
        (4, 'log_minutes', 'service', 'default'),
        (5, 'log_hours', 'service', 'log_minutes'),
        (6, 'templates', 'service', 'log_minutes'),
        (7, 'incidents', 'job', 'none'),
        (8, 'alerts', 'job', 'incidents'),
        (9, 'outbox', 'job', 'incidents'),
        (10, 'known_values', 'job', 'incidents')
    ) AS d (n, tab, col, coloc) ORDER BY n
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = t.tab::regclass) THEN
            PERFORM create_distributed_table(t.tab, t.col, colocate_with => t.coloc);
        END IF;
    END LOOP;
    -- Rows a table held before (a database loaded on the coordinator, then
    -- distributed) were copied to the shards; the coordinator's copy is
    -- removed, in an order no foreign key minds (referencing tables first).
    FOR t IN SELECT * FROM (VALUES
        (1, 'alerts'), (2, 'outbox'), (3, 'incidents'), (4, 'known_values'), (5, 'logs'),
        (6, 'checkpoints'), (7, 'rejects'), (8, 'log_minutes'), (9, 'log_hours'), (10, 'templates')
    ) AS d (n, tab) ORDER BY n
    LOOP
        PERFORM truncate_local_data_after_distributing_table(t.tab);
    END LOOP;
END $$;
