-- One row per package ever listed: its latest snapshot, when it was first and last seen, and whether the
-- newest snapshot still lists it. Columns are named one by one: a column added to package_snapshots
-- joins the public contract only when it is added here (and to the README's contract).
WITH seen AS (
    SELECT package_id, min(snapshot_date) AS first_seen_date, max(snapshot_date) AS last_seen_date
    FROM package_snapshots
    GROUP BY package_id
)
SELECT p.package_id, p.slug, p.title, p.category_id, p.grid_ids, p.repo_url, p.repo_host, p.repo_full_name,
       p.pypi_name, p.pypi_version, p.documentation_url, p.repo_description, p.stars, p.forks,
       p.participants, p.commits_over_52, p.last_updated_at, p.last_fetched_at, p.created_at, p.modified_at,
       seen.first_seen_date, seen.last_seen_date,
       seen.last_seen_date = (SELECT max(snapshot_date) FROM package_snapshots) AS listed
FROM package_snapshots p
JOIN seen ON p.package_id = seen.package_id AND p.snapshot_date = seen.last_seen_date
