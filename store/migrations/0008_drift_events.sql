-- Schema version 8: a record of drift. Each entity reconcile found
-- different in Harness from Git (missing, changed by hand, or managed but
-- no longer in Git) is one row, with what differed, and when its repair
-- operation finished. A repair makes the next reconcile see no drift, so
-- without this record a hand edit in Harness would leave no trace.
CREATE TABLE drift_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    commit_sha   TEXT    NOT NULL DEFAULT '',
    entity_kind  TEXT    NOT NULL,
    identifier   TEXT    NOT NULL,
    drift        TEXT    NOT NULL CHECK (drift IN ('missing', 'different', 'extra')),
    diff         TEXT    NOT NULL DEFAULT '',   -- Git's version against Harness's, cut
    operation_id INTEGER,                       -- the repair, if one was queued
    repaired_at  INTEGER
);
CREATE INDEX drift_events_at ON drift_events (at);
CREATE INDEX drift_events_operation ON drift_events (operation_id);
