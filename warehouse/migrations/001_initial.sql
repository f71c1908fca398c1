-- Raw landing: every record exactly as a source returned it, per snapshot date. Everything downstream is
-- a pure function of these rows, so any past partition can be recomputed without a request.
CREATE TABLE raw_records (
    snapshot_date DATE NOT NULL,
    source VARCHAR NOT NULL,          -- e.g. djangopackages/packages, github/repository, pypi/project
    record_key VARCHAR NOT NULL,      -- id, full name or project name as requested
    status VARCHAR NOT NULL,          -- ok | missing | pending | blocked | unchanged (PyPI: the serial had
                                      -- not moved, so the payload is the document stored earlier)
    payload VARCHAR                   -- the JSON body or record as received; null when there was none
);

-- Every request made to a source, failed or not (principle 3: nothing lost).
CREATE TABLE raw_requests (
    snapshot_date DATE NOT NULL,
    asset VARCHAR NOT NULL,           -- the raw asset that made the request (its partition owns the row)
    source VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    status INTEGER,
    attempts INTEGER NOT NULL,
    ok BOOLEAN NOT NULL,
    error VARCHAR,
    elapsed_ms DOUBLE NOT NULL,
    started_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE package_snapshots (
    snapshot_date DATE NOT NULL,
    package_id BIGINT NOT NULL,
    slug VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    category_id BIGINT,
    grid_ids BIGINT[],
    repo_url VARCHAR,
    repo_host VARCHAR NOT NULL,
    repo_full_name VARCHAR,
    pypi_name VARCHAR,
    pypi_version VARCHAR,
    documentation_url VARCHAR,
    repo_description VARCHAR,
    stars BIGINT NOT NULL,
    forks BIGINT NOT NULL,
    participants VARCHAR[],
    commits_over_52 BIGINT[],         -- sanitized: oldest first, 52 entries, null = unknown week; null = no array
    last_updated_at TIMESTAMPTZ,
    last_fetched_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ,
    modified_at TIMESTAMPTZ,
    repairs VARCHAR[] NOT NULL        -- fields repaired on the way in, with what was done
);

CREATE TABLE category_snapshots (
    snapshot_date DATE NOT NULL,
    category_id BIGINT NOT NULL,
    slug VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    title_plural VARCHAR,
    description VARCHAR,
    show_pypi BOOLEAN,
    created_at TIMESTAMPTZ,
    modified_at TIMESTAMPTZ
);

CREATE TABLE grid_snapshots (
    snapshot_date DATE NOT NULL,
    grid_id BIGINT NOT NULL,
    slug VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    description VARCHAR,
    is_locked BOOLEAN,
    header BOOLEAN,
    created_at TIMESTAMPTZ,
    modified_at TIMESTAMPTZ
);

CREATE TABLE grid_package_snapshots (
    snapshot_date DATE NOT NULL,
    grid_id BIGINT NOT NULL,
    package_id BIGINT NOT NULL
);

CREATE TABLE repository_snapshots (
    snapshot_date DATE NOT NULL,
    full_name VARCHAR NOT NULL,       -- as djangopackages links it (lower-cased owner/name)
    status VARCHAR NOT NULL,          -- ok | missing | blocked
    github_id BIGINT,
    name_with_owner VARCHAR,          -- the current name (differs after a rename)
    stars BIGINT,
    forks BIGINT,
    watchers BIGINT,
    open_issues BIGINT,
    open_pull_requests BIGINT,
    pushed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ,
    archived BOOLEAN,
    disabled BOOLEAN,
    license VARCHAR,
    default_branch VARCHAR,
    topics VARCHAR[],
    participation_status VARCHAR,     -- ok | pending | missing | blocked | null (not requested)
    participation BIGINT[]            -- GitHub's 52 weekly totals ending on the snapshot date
);

CREATE TABLE pypi_projects (
    snapshot_date DATE NOT NULL,
    pypi_name VARCHAR NOT NULL,
    status VARCHAR NOT NULL,          -- ok | missing
    version VARCHAR,
    requires_python VARCHAR,
    license VARCHAR,
    django_versions VARCHAR[],
    supports_python3 BOOLEAN,
    release_count BIGINT,
    last_release_at TIMESTAMPTZ,
    last_serial BIGINT
);

CREATE TABLE release_snapshots (
    snapshot_date DATE NOT NULL,
    pypi_name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    uploaded_at TIMESTAMPTZ,
    yanked BOOLEAN NOT NULL,
    requires_python VARCHAR
);

CREATE TABLE rejected_records (
    snapshot_date DATE NOT NULL,
    source VARCHAR NOT NULL,
    record_key VARCHAR NOT NULL,
    fields VARCHAR[] NOT NULL,
    reasons VARCHAR NOT NULL,
    payload VARCHAR
);

CREATE TABLE ingest_runs (
    run_id VARCHAR NOT NULL,
    snapshot_date DATE NOT NULL,
    mode VARCHAR NOT NULL,            -- capture | recompute
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,
    requests_djangopackages BIGINT NOT NULL,
    requests_github BIGINT NOT NULL,
    requests_pypi BIGINT NOT NULL,
    requests_failed BIGINT NOT NULL,
    records_fetched BIGINT NOT NULL,
    records_accepted BIGINT NOT NULL,
    records_repaired BIGINT NOT NULL,
    records_rejected BIGINT NOT NULL,
    packages_scored BIGINT NOT NULL,
    score_version VARCHAR NOT NULL
);

CREATE TABLE daily_package_metrics (
    snapshot_date DATE NOT NULL,
    package_id BIGINT NOT NULL,
    stars BIGINT NOT NULL,
    forks BIGINT NOT NULL,
    open_issues BIGINT,               -- GitHub: open issues plus open pull requests
    watchers BIGINT,                  -- GitHub subscribers (djangopackages' "watchers" are stars)
    commits_52w BIGINT,
    last_commit_at TIMESTAMPTZ,
    latest_version VARCHAR,
    weeks_source VARCHAR NOT NULL,    -- github (participation fetched that day) | djangopackages | none
    weeks BIGINT[],                   -- the 52 weekly counts the score used, oldest first
    weeks_anchor_at TIMESTAMPTZ,      -- when the newest of those weeks ends
    archived BOOLEAN,
    score_version VARCHAR NOT NULL,
    activity_score DOUBLE,
    recency DOUBLE,
    consistency DOUBLE,
    volume DOUBLE,
    staleness_decay DOUBLE,
    gap_weeks DOUBLE,
    stale_weeks DOUBLE,
    momentum DOUBLE,
    burstiness DOUBLE,
    status VARCHAR NOT NULL,
    trend VARCHAR NOT NULL,
    coverage VARCHAR NOT NULL,
    censored BOOLEAN NOT NULL,
    dump_weeks BIGINT,                -- weeks above the cap (history dumps), capped in the score
    n_invalid BIGINT,                 -- weekly counts that were not usable numbers
    inconsistent BOOLEAN,             -- the weekly array and last_updated disagree
    last_nonzero_week_ago BIGINT,
    percentile_category DOUBLE,
    popularity_pct DOUBLE,
    at_risk_popular BOOLEAN,
    baseline_djangopackages BIGINT,
    baseline_sum_26w BIGINT,
    baseline_sum_52w BIGINT,
    baseline_recency DOUBLE
);

CREATE TABLE daily_grid_percentiles (
    snapshot_date DATE NOT NULL,
    grid_id BIGINT NOT NULL,
    package_id BIGINT NOT NULL,
    percentile_grid DOUBLE
);

-- The public SQL contract: current-state views over the snapshot history.

CREATE VIEW packages AS
WITH seen AS (
    SELECT package_id, min(snapshot_date) AS first_seen_date, max(snapshot_date) AS last_seen_date
    FROM package_snapshots GROUP BY package_id
)
SELECT p.* EXCLUDE (snapshot_date, repairs), seen.first_seen_date, seen.last_seen_date,
       seen.last_seen_date = (SELECT max(snapshot_date) FROM package_snapshots) AS listed
FROM package_snapshots p JOIN seen
  ON p.package_id = seen.package_id AND p.snapshot_date = seen.last_seen_date;

CREATE VIEW categories AS
SELECT c.* EXCLUDE (snapshot_date), c.snapshot_date AS last_seen_date,
       c.snapshot_date = (SELECT max(snapshot_date) FROM category_snapshots) AS listed
FROM category_snapshots c
WHERE c.snapshot_date = (SELECT max(snapshot_date) FROM category_snapshots x WHERE x.category_id = c.category_id);

CREATE VIEW grids AS
SELECT g.* EXCLUDE (snapshot_date), g.snapshot_date AS last_seen_date,
       g.snapshot_date = (SELECT max(snapshot_date) FROM grid_snapshots) AS listed
FROM grid_snapshots g
WHERE g.snapshot_date = (SELECT max(snapshot_date) FROM grid_snapshots x WHERE x.grid_id = g.grid_id);

CREATE VIEW grid_packages AS
SELECT grid_id, package_id
FROM grid_package_snapshots
WHERE snapshot_date = (SELECT max(snapshot_date) FROM grid_package_snapshots);

CREATE VIEW releases AS
WITH latest AS (
    SELECT pypi_name, max(snapshot_date) AS snapshot_date FROM pypi_projects GROUP BY pypi_name
)
SELECT p.package_id, r.pypi_name, r.version, r.uploaded_at, r.yanked, r.requires_python
FROM packages p
JOIN latest l ON l.pypi_name = p.pypi_name
JOIN release_snapshots r ON r.pypi_name = l.pypi_name AND r.snapshot_date = l.snapshot_date;

-- Each snapshot holds a 52-week window; stitching every window gives a weekly series that grows past 52
-- weeks. Weeks are keyed by their Monday; a later observation of the same week wins (the newest week is
-- partial when first seen).
CREATE VIEW weekly_commits AS
WITH observed AS (
    SELECT package_id, snapshot_date, weeks_source,
           unnest(weeks) AS commits,
           generate_subscripts(weeks, 1) AS i,
           len(weeks) AS n,
           -- timezone('UTC', ...) makes the day independent of the reader's session time zone
           CAST(date_trunc('week', timezone('UTC', weeks_anchor_at - INTERVAL 1 MICROSECOND)) AS DATE) AS last_week
    FROM daily_package_metrics
    WHERE weeks IS NOT NULL
)
SELECT package_id,
       CAST(last_week - to_days(CAST(7 * (n - i) AS INTEGER)) AS DATE) AS week_start,
       arg_max(commits, snapshot_date) AS commits,
       arg_max(weeks_source, snapshot_date) AS source,
       max(snapshot_date) AS observed_on
FROM observed
WHERE commits IS NOT NULL
GROUP BY ALL;
