-- title: Releases of a package
-- description: A package's PyPI releases as its project listed them on a date (default: the latest), newest first.
-- param: package str required package slug or id
-- param: date date null snapshot date (default: the latest)
-- param: limit int 100 how many releases
-- columns: version, uploaded_at, yanked, requires_python
-- example: dpw query releases_of --param package=django-filter --param limit=10
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics),
target AS MATERIALIZED (
    SELECT p.pypi_name FROM package_snapshots p JOIN day ON p.snapshot_date = day.d
    WHERE (p.slug = $package OR CAST(p.package_id AS VARCHAR) = $package) AND p.pypi_name <> ''
)
SELECT r.version, r.uploaded_at, r.yanked, r.requires_python
FROM release_snapshots r
JOIN day ON r.snapshot_date = day.d
JOIN target USING (pypi_name)
ORDER BY r.uploaded_at DESC NULLS LAST, r.version DESC
LIMIT $limit;
