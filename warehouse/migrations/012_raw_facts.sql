-- The dataset guards' facts of each published date's raw (warehouse/guards.py RawFacts): written when the
-- date is published, read back by later runs of that date and of the next one instead of reading every
-- document again. Only used while `version` is the code's and `fingerprint` is the date's raw as it is.
CREATE TABLE raw_facts (
    snapshot_date DATE NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    fingerprint VARCHAR NOT NULL,         -- the date's raw rows: their count and the sum of their hashes
    facts VARCHAR NOT NULL,               -- JSON: fetched, usable, reported, invalid_pages, keys, filled, skipped
    computed_at TIMESTAMPTZ NOT NULL
);
