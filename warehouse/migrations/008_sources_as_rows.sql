-- Each run's requests per source as rows, so a source (GitLab, Bitbucket) is added without a column: how many
-- requests it made, how many were answered 304 (unchanged, no quota spent) and failed, and whether the source
-- was asked at all (status asked | skipped, with the reason in message, e.g. no GitHub token).
CREATE TABLE ingest_run_sources (
    run_id VARCHAR NOT NULL,
    snapshot_date DATE NOT NULL,
    source VARCHAR NOT NULL,          -- djangopackages | github | pypi | ...
    status VARCHAR NOT NULL,          -- asked | skipped
    requests BIGINT NOT NULL,
    not_modified BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    message VARCHAR                   -- why skipped
);
