-- Schema version 11: the audit log, which is never pruned, is read through
-- an index whichever filter the admin API is given (subject already has
-- one, audit_log_subject): newest first, by action or by commit.
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_commit ON audit_log (commit_sha, id);
