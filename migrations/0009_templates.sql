-- Message templates and the values novelty rules have seen.

-- The templates of each service's messages (see the template module):
-- loading keeps them current in the same transaction as the rows. The id
-- is a hash of the text; a template that grows more general gets the id
-- of its new text, and keeps its counts and first sighting.
CREATE TABLE IF NOT EXISTS templates (
    service      text        NOT NULL,
    template_id  text        NOT NULL,
    template     text        NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    count        bigint      NOT NULL,
    example_path text,
    example_line bigint,
    PRIMARY KEY (service, template_id)
);
COMMENT ON TABLE templates IS 'Message templates per service, kept by loading';
CREATE INDEX IF NOT EXISTS templates_first_seen ON templates (first_seen);

-- new_value rules: the combinations of values each rule (its id and
-- fields) of each job has seen, with their first and last sighting (event
-- time). A row is forgotten once the newest stored record is `remember`
-- past its last sighting (`forget_after`): detection and `db prune`
-- delete it.
CREATE TABLE IF NOT EXISTS known_values (
    job          text        NOT NULL,
    rule         text        NOT NULL,
    value        text        NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    forget_after timestamptz NOT NULL,
    PRIMARY KEY (job, rule, value)
);
COMMENT ON TABLE known_values IS 'Combinations of values seen by new_value rules';
CREATE INDEX IF NOT EXISTS known_values_forget ON known_values (forget_after);
