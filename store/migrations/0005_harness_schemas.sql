-- Schema version 5: the YAML schemas Harness serves, as last fetched.
--
-- Harness serves, per account, the JSON Schemas it validates pipeline and
-- trigger YAML with. The app fetches them at most about once a day and
-- keeps the last of each here, so that a restart, or a Harness that
-- cannot serve them for a while, still finds one to check renderings
-- against.
CREATE TABLE harness_schemas (
    entity_type TEXT    PRIMARY KEY,  -- Harness's entityType: Pipelines, Triggers
    schema      BLOB    NOT NULL,     -- the JSON Schema, as fetched
    fetched_at  INTEGER NOT NULL      -- when it was fetched, Unix ms
);
