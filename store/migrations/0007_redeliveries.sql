-- Schema version 7: how often the app asked GitHub to redeliver each
-- delivery, by its GUID (X-GitHub-Delivery), across sweeps: a delivery the
-- app keeps refusing (a changed webhook secret, say) is redelivered at most
-- a few times, however many sweeps see it fail.
CREATE TABLE redeliveries (
    guid        TEXT    PRIMARY KEY,
    requests    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL
);
CREATE INDEX redeliveries_last ON redeliveries (last_at);
