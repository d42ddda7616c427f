-- Schema version 4: blobs remember when they were last used, not added.
--
-- Reading a cached blob refreshes used_at (at most once a day), so the
-- janitor can drop the blobs no pipeline has needed for a month while the
-- ones in use stay cached, however old.
ALTER TABLE blobs RENAME COLUMN added_at TO used_at;
CREATE INDEX blobs_used ON blobs (used_at);
