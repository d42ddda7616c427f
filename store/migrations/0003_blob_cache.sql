-- Schema version 3: a content-addressed cache of git blobs.
--
-- The app compares pipeline files by git blob SHA and keeps the content of
-- every blob it writes or reads here, so that in steady state it never
-- downloads a pipeline file it already knows, whatever the number of
-- pipelines. Rows never change: a SHA names one content forever.
CREATE TABLE blobs (
    sha      TEXT    PRIMARY KEY,  -- git blob SHA of content
    content  BLOB    NOT NULL,
    added_at INTEGER NOT NULL
);
