-- A run is recorded when it starts (status 'started', no finish) and updated when it ends, so a run that
-- was killed stays visible; `message` is the one-line root cause of a failed or refused run.
ALTER TABLE ingest_runs ALTER COLUMN finished_at DROP NOT NULL;
ALTER TABLE ingest_runs ADD COLUMN message VARCHAR;

-- The dataset guards each run evaluated before publishing its date: one row per (run, guard).
CREATE TABLE guard_results (
    run_id VARCHAR NOT NULL,
    snapshot_date DATE NOT NULL,
    guard VARCHAR NOT NULL,           -- e.g. packages_vanished, count_mismatch, reject_share
    level VARCHAR NOT NULL,           -- ok | warn | fail | allowed (a failure a person let through)
    value DOUBLE,                     -- what was measured (a share, a count), when it is a number
    message VARCHAR NOT NULL          -- what was measured against what, naming the field or URL
);
