-- Every release of each package's PyPI project, as the newest snapshot of that project lists them. Reads the
-- packages view, so it is created after it.
WITH latest AS (
    SELECT pypi_name, max(snapshot_date) AS snapshot_date FROM pypi_projects GROUP BY pypi_name
)
SELECT p.package_id, r.pypi_name, r.version, r.uploaded_at, r.yanked, r.requires_python
FROM packages p
JOIN latest l ON l.pypi_name = p.pypi_name
JOIN release_snapshots r ON r.pypi_name = l.pypi_name AND r.snapshot_date = l.snapshot_date
