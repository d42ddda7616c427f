-- Schema version 10: an operation that supersedes others keeps their place
-- in the queue.
--
-- An operation waits for the open operations of the entities it depends
-- on that were queued before it. When a newer change of such an entity
-- superseded the one it was waiting for, the newer operation's id came
-- after the waiting one's, and the waiting one ran first: a trigger was
-- saved before its pipeline existed, and Harness disabled it. place is the
-- id of the oldest operation an operation superseded, through every
-- superseding in between (NULL: its own id); claims compare places.
ALTER TABLE operations ADD COLUMN place INTEGER;

DROP INDEX operations_entity_state;
CREATE INDEX operations_entity_state ON operations (entity_kind, pipeline, parent, state, id, lease_until, place);
DROP INDEX operations_ready;
CREATE INDEX operations_ready ON operations (state, id, not_before, lease_until, entity_kind, pipeline, parent, place)
    WHERE state IN ('pending', 'running');
