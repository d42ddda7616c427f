-- Schema version 2: indexes the claim queries can use.
--
-- Version 1's partial indexes (WHERE state IN ('pending', 'running'...)) were
-- never chosen by the planner for the claim queries, whose state terms do
-- not match the index's WHERE clause literally, so every claim scanned the
-- whole table, finished rows included. Plain indexes led by state (and by
-- pipeline, state for the per-pipeline checks) keep claims independent of
-- how much history the file holds.
DROP INDEX deliveries_open;
CREATE INDEX deliveries_state ON deliveries (state, repo, work_key);

DROP INDEX operations_open;
DROP INDEX operations_pipeline;
CREATE INDEX operations_state ON operations (state, not_before);
CREATE INDEX operations_pipeline_state ON operations (pipeline, state, id);
