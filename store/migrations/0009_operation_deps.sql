-- Schema version 9: claims that stay fast with thousands of operations
-- waiting (a first apply of 1,500 services queues 4,500).
--
-- A claim used to read the dependencies from a JSON column and the state,
-- lease and entity from columns stored after each row's YAML: every
-- candidate row, and every row a dependency named, was read through its
-- YAML's overflow pages, for each claim. The dependencies now have a table
-- of their own, and the claim reads indexes that hold all it needs.
CREATE TABLE operation_deps (
    op_id       INTEGER NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    entity_kind TEXT    NOT NULL,
    identifier  TEXT    NOT NULL
);
CREATE INDEX operation_deps_op ON operation_deps (op_id);
INSERT INTO operation_deps (op_id, entity_kind, identifier)
    SELECT o.id, substr(d.value, 1, instr(d.value, '/') - 1), substr(d.value, instr(d.value, '/') + 1)
    FROM operations o, json_each(o.after_entities) d
    WHERE o.state IN ('pending', 'running', 'held');

DROP INDEX operations_entity_state;
CREATE INDEX operations_entity_state ON operations (entity_kind, pipeline, parent, state, id, lease_until);
-- Candidates in id order, with what the claim's conditions read.
CREATE INDEX operations_ready ON operations (state, id, not_before, lease_until, entity_kind, pipeline, parent)
    WHERE state IN ('pending', 'running');
