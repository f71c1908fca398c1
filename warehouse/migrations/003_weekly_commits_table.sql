-- weekly_commits becomes a table kept by warehouse/stitching.py (rebuilt from every snapshot when this migration
-- is applied, then refreshed one published date at a time): as a view it unnested every snapshot's 52-week
-- array on every read. One row per (package, week): each snapshot's array is 52 weeks ending at its
-- weeks_anchor_at, a week keyed by its Monday (UTC); the latest snapshot counting a week gives its row, so the
-- newest week, partial when first seen, is replaced as it completes. No key: stitching writes the rows in
-- (package_id, week_start) order, which keeps a package's weeks together for DuckDB's min/max skipping, and
-- checks their uniqueness before writing; an index would make each refresh's rewrite about four times slower.
DROP VIEW IF EXISTS weekly_commits;

CREATE TABLE weekly_commits (
    package_id BIGINT NOT NULL,
    week_start DATE NOT NULL,         -- the week's Monday, UTC
    commits BIGINT NOT NULL,
    source VARCHAR NOT NULL,          -- github | djangopackages: the weeks_source of the snapshot counting it
    observed_on DATE NOT NULL         -- that snapshot's date: the latest with a count for the week
);
