-- The marts: per-date summaries of the history, recomputed by warehouse/marts.py whenever a date is published
-- (that date and the later dates whose deltas or transitions read it). Definitions: the models in
-- warehouse/contracts.py. "Dormant" means inactive or abandoned, as everywhere.

-- Stars, activity score and 52-week commits of every scored package, with their change against the
-- package's latest snapshot on or before the date minus N days (no older than minus N + 7); null without one.
CREATE TABLE package_deltas (
    snapshot_date DATE NOT NULL,
    package_id BIGINT NOT NULL,
    stars BIGINT NOT NULL,
    activity_score DOUBLE,
    commits_52w BIGINT,
    stars_7d BIGINT,
    stars_30d BIGINT,
    stars_90d BIGINT,
    score_7d DOUBLE,
    score_30d DOUBLE,
    score_90d DOUBLE,
    commits_7d BIGINT,
    commits_30d BIGINT,
    commits_90d BIGINT
);

-- Packages of a category by status, the median and 75th percentile of their scores, share_active = active /
-- packages. Packages without a category are in no row.
CREATE TABLE category_health (
    snapshot_date DATE NOT NULL,
    category_id BIGINT NOT NULL,
    packages BIGINT NOT NULL,
    active BIGINT NOT NULL,
    slowing BIGINT NOT NULL,
    stale BIGINT NOT NULL,
    inactive BIGINT NOT NULL,
    abandoned BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    median_score DOUBLE,
    p75_score DOUBLE,
    share_active DOUBLE NOT NULL
);

-- The same per grid, from the grid memberships of the date.
CREATE TABLE grid_health (
    snapshot_date DATE NOT NULL,
    grid_id BIGINT NOT NULL,
    packages BIGINT NOT NULL,
    active BIGINT NOT NULL,
    slowing BIGINT NOT NULL,
    stale BIGINT NOT NULL,
    inactive BIGINT NOT NULL,
    abandoned BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    median_score DOUBLE,
    p75_score DOUBLE,
    share_active DOUBLE NOT NULL
);

-- A package whose status differs from the previous snapshot date's: kind newly_dormant | revived | changed.
CREATE TABLE status_transitions (
    snapshot_date DATE NOT NULL,
    package_id BIGINT NOT NULL,
    previous_date DATE NOT NULL,
    status_before VARCHAR NOT NULL,
    status_now VARCHAR NOT NULL,
    kind VARCHAR NOT NULL
);

-- A package's PyPI project: its non-yanked releases with an upload time, the newest of them and its age, the
-- median gap between consecutive uploads and the uploads of the last 365 days.
CREATE TABLE release_cadence (
    snapshot_date DATE NOT NULL,
    pypi_name VARCHAR NOT NULL,
    package_id BIGINT NOT NULL,
    releases BIGINT NOT NULL,
    latest_version VARCHAR,
    latest_release_at TIMESTAMPTZ,
    latest_age_days BIGINT,
    median_days_between DOUBLE,
    releases_365d BIGINT NOT NULL
);

-- Packages whose PyPI project declares a Django version (Framework :: Django :: X.Y), and their share of the
-- packages with a PyPI project that date.
CREATE TABLE django_support (
    snapshot_date DATE NOT NULL,
    django_version VARCHAR NOT NULL,
    packages BIGINT NOT NULL,
    share DOUBLE NOT NULL
);

-- How many participants djangopackages lists for a package (null: unknown); single_maintainer at most one.
CREATE TABLE package_contributors (
    snapshot_date DATE NOT NULL,
    package_id BIGINT NOT NULL,
    participants BIGINT,
    single_maintainer BOOLEAN
);
