-- Schema version 1. Times are Unix milliseconds (UTC); NULL means "none".

-- Webhook deliveries, recorded by the handler before it answers GitHub and
-- processed by workers one repository at a time.
CREATE TABLE deliveries (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT, -- arrival order
    delivery_id  TEXT    NOT NULL,                  -- X-GitHub-Delivery
    event        TEXT    NOT NULL,                  -- X-GitHub-Event
    action       TEXT    NOT NULL DEFAULT '',
    repo         TEXT    NOT NULL,                  -- owner/name
    installation INTEGER NOT NULL DEFAULT 0,
    work_key     TEXT    NOT NULL,                  -- e.g. preview:<sha>, propose, apply
    ref          TEXT    NOT NULL DEFAULT '',
    sha          TEXT    NOT NULL DEFAULT '',
    before_sha   TEXT    NOT NULL DEFAULT '',
    after_sha    TEXT    NOT NULL DEFAULT '',
    pr_number    INTEGER NOT NULL DEFAULT 0,
    data         BLOB,
    received_at  INTEGER NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   INTEGER NOT NULL DEFAULT 0,
    lease_until  INTEGER,
    worker       TEXT    NOT NULL DEFAULT '',
    outcome      TEXT    NOT NULL DEFAULT '',
    last_error   TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL,
    done_at      INTEGER,
    UNIQUE (delivery_id, event, work_key)
);
CREATE INDEX deliveries_open ON deliveries (repo, work_key, state)
    WHERE state IN ('pending', 'running');

-- The outbox: one row per Harness change, written before it is tried.
CREATE TABLE operations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key    TEXT    NOT NULL UNIQUE,
    pipeline      TEXT    NOT NULL,                 -- Harness pipeline identifier
    service       TEXT    NOT NULL DEFAULT '',
    path          TEXT    NOT NULL DEFAULT '',      -- file in the pipelines repo
    kind          TEXT    NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    commit_sha    TEXT    NOT NULL DEFAULT '',      -- pipelines repo commit
    config_commit TEXT    NOT NULL DEFAULT '',      -- config repo commit behind it
    content_hash  TEXT    NOT NULL DEFAULT '',
    yaml          BLOB,
    reason        TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'done', 'failed', 'superseded', 'held')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    result        TEXT    NOT NULL DEFAULT '',
    not_before    INTEGER NOT NULL DEFAULT 0,
    lease_until   INTEGER,
    worker        TEXT    NOT NULL DEFAULT '',
    superseded_by INTEGER REFERENCES operations (id),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    done_at       INTEGER
);
CREATE INDEX operations_pipeline ON operations (pipeline, id);
CREATE INDEX operations_open ON operations (state, not_before)
    WHERE state IN ('pending', 'running', 'held');
CREATE INDEX operations_commit ON operations (commit_sha);

-- What the app last knew about each service's pipeline.
CREATE TABLE pipeline_states (
    service              TEXT    PRIMARY KEY,
    pipeline             TEXT    NOT NULL,
    path                 TEXT    NOT NULL DEFAULT '',
    archetype            TEXT    NOT NULL DEFAULT '',
    team                 TEXT    NOT NULL DEFAULT '',
    last_rendered_commit TEXT    NOT NULL DEFAULT '',
    last_applied_commit  TEXT    NOT NULL DEFAULT '',
    content_hash         TEXT    NOT NULL DEFAULT '',
    harness_state        TEXT    NOT NULL DEFAULT 'pending'
                         CHECK (harness_state IN ('in_sync', 'pending', 'failed', 'drifted', 'deleted')),
    last_error           TEXT    NOT NULL DEFAULT '',
    updated_at           INTEGER NOT NULL
);

-- Pull requests opened by the app on the pipelines repository.
CREATE TABLE bot_prs (
    repo           TEXT    NOT NULL,
    number         INTEGER NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
    head_sha       TEXT    NOT NULL DEFAULT '',
    desired_hash   TEXT    NOT NULL DEFAULT '',
    source_commits TEXT    NOT NULL DEFAULT '[]',   -- JSON array of strings
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (repo, number)
);
CREATE INDEX bot_prs_open ON bot_prs (repo, state);

-- Small facts, such as the last good catalog commit.
CREATE TABLE kv (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Append-only record of what the app did and why.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    subject     TEXT    NOT NULL DEFAULT '',
    detail      TEXT    NOT NULL DEFAULT '',
    commit_sha  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
