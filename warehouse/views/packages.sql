-- One row per package ever listed: its latest snapshot, when it was first and last seen, and whether the
-- newest snapshot still lists it. Columns are named one by one: a column added to package_snapshots
-- joins the public contract only when it is added here (and to the README's contract).
-- The rows of listed packages are read from the newest date alone, and only packages no longer listed are
-- looked up among the other dates: joining every snapshot on (package, last seen date) read every column
-- of every date.
WITH seen AS (
    SELECT package_id, min(snapshot_date) AS first_seen_date, max(snapshot_date) AS last_seen_date
    FROM package_snapshots
    GROUP BY package_id
),
newest AS (SELECT max(snapshot_date) AS d FROM package_snapshots),
gone AS (SELECT package_id, last_seen_date FROM seen WHERE last_seen_date < (SELECT d FROM newest)),
latest AS (
    SELECT p.package_id, p.slug, p.title, p.category_id, p.grid_ids, p.repo_url, p.repo_host, p.repo_full_name,
           p.pypi_name, p.pypi_version, p.documentation_url, p.repo_description, p.stars, p.forks,
           p.participants, p.commits_over_52, p.last_updated_at, p.last_fetched_at, p.created_at, p.modified_at
    FROM package_snapshots p WHERE p.snapshot_date = (SELECT d FROM newest)
    UNION ALL
    SELECT p.package_id, p.slug, p.title, p.category_id, p.grid_ids, p.repo_url, p.repo_host, p.repo_full_name,
           p.pypi_name, p.pypi_version, p.documentation_url, p.repo_description, p.stars, p.forks,
           p.participants, p.commits_over_52, p.last_updated_at, p.last_fetched_at, p.created_at, p.modified_at
    FROM package_snapshots p
    SEMI JOIN gone g ON p.package_id = g.package_id AND p.snapshot_date = g.last_seen_date
    -- the same condition as filters the scan applies to the key columns before reading the others
    WHERE p.package_id IN (SELECT package_id FROM gone) AND p.snapshot_date IN (SELECT last_seen_date FROM gone)
)
SELECT p.package_id, p.slug, p.title, p.category_id, p.grid_ids, p.repo_url, p.repo_host, p.repo_full_name,
       p.pypi_name, p.pypi_version, p.documentation_url, p.repo_description, p.stars, p.forks,
       p.participants, p.commits_over_52, p.last_updated_at, p.last_fetched_at, p.created_at, p.modified_at,
       seen.first_seen_date, seen.last_seen_date,
       seen.last_seen_date = (SELECT d FROM newest) AS listed
FROM latest p
JOIN seen ON p.package_id = seen.package_id
