-- Every release of each package's PyPI project, as the newest snapshot of that project lists them. Reads the
-- packages view, so it is created after it.
-- The releases of projects in the newest snapshot are read from the newest date alone, and only projects
-- no longer in it are looked up among the other dates: joining every date's releases read them all.
WITH latest AS (
    SELECT pypi_name, max(snapshot_date) AS snapshot_date FROM pypi_projects GROUP BY pypi_name
),
newest AS (SELECT max(snapshot_date) AS d FROM pypi_projects),
gone AS (SELECT pypi_name, snapshot_date FROM latest WHERE snapshot_date < (SELECT d FROM newest)),
listed AS (
    SELECT pypi_name, version, uploaded_at, yanked, requires_python
    FROM release_snapshots WHERE snapshot_date = (SELECT d FROM newest)
    UNION ALL
    SELECT r.pypi_name, r.version, r.uploaded_at, yanked, requires_python
    FROM release_snapshots r
    SEMI JOIN gone g ON r.pypi_name = g.pypi_name AND r.snapshot_date = g.snapshot_date
    -- the same condition as filters the scan applies to the key columns before reading the others
    WHERE r.pypi_name IN (SELECT pypi_name FROM gone) AND r.snapshot_date IN (SELECT snapshot_date FROM gone)
)
SELECT p.package_id, r.pypi_name, r.version, r.uploaded_at, r.yanked, r.requires_python
FROM packages p
JOIN listed r ON r.pypi_name = p.pypi_name
