-- title: Slowest releasers
-- description: Popular packages that release least often on a date (default: the latest): median days between releases, releases in the last year and the latest release's age.
-- param: date date null snapshot date (default: the latest)
-- param: min_stars int 100 at least this many stars
-- param: limit int 20 how many packages
-- columns: slug, pypi_name, stars, status, releases, releases_365d, median_days_between, latest_version, latest_age_days
-- example: dpw query release_cadence --param min_stars=1000
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics)
SELECT p.slug, r.pypi_name, m.stars, m.status, r.releases, r.releases_365d,
       round(r.median_days_between, 1) AS median_days_between, r.latest_version, r.latest_age_days
FROM release_cadence r
JOIN day ON r.snapshot_date = day.d
JOIN daily_package_metrics m ON m.snapshot_date = day.d AND m.package_id = r.package_id
JOIN package_snapshots p ON p.snapshot_date = day.d AND p.package_id = r.package_id
WHERE m.stars >= $min_stars
ORDER BY r.median_days_between DESC NULLS LAST, r.latest_age_days DESC NULLS LAST, p.slug
LIMIT $limit;
