-- Schema version 6: every kind of Harness entity, not only pipelines.
--
-- Operations name the kind of entity they change (the pipeline column now
-- holds any entity's identifier), the entity's parent where Harness scopes
-- identifiers by one (an infrastructure's environment, a trigger's
-- pipeline), and the entities whose earlier operations must finish first
-- (JSON array of "kind/identifier"), so that a pipeline is saved after its
-- Service and a Service deleted after its pipeline.
ALTER TABLE operations ADD COLUMN entity_kind TEXT NOT NULL DEFAULT 'pipeline';
ALTER TABLE operations ADD COLUMN parent TEXT NOT NULL DEFAULT '';
ALTER TABLE operations ADD COLUMN after_entities TEXT NOT NULL DEFAULT '[]';
DROP INDEX operations_pipeline_state;
CREATE INDEX operations_entity_state ON operations (entity_kind, pipeline, state, id);

-- The entity files applied (or being applied), by path in the pipelines
-- repository: what apply compares the repository with. Pipelines applied
-- before this version are carried over from pipeline_states.
CREATE TABLE entities (
    path                 TEXT    PRIMARY KEY,
    kind                 TEXT    NOT NULL,
    identifier           TEXT    NOT NULL,
    parent               TEXT    NOT NULL DEFAULT '',
    service              TEXT    NOT NULL DEFAULT '',
    content_hash         TEXT    NOT NULL,
    last_rendered_commit TEXT    NOT NULL DEFAULT '',
    updated_at           INTEGER NOT NULL
);
INSERT INTO entities (path, kind, identifier, service, content_hash, last_rendered_commit, updated_at)
    SELECT path, 'pipeline', pipeline, service, content_hash, last_rendered_commit, updated_at
    FROM pipeline_states WHERE content_hash <> '' AND path <> '';
