-- title: Package history
-- description: One package's score, its components (recency, consistency, volume, each 0 to 1), status, trend, stars, commits and djangopackages' own score on each date of a window (default: the last 90 days up to the latest date).
-- param: package str required package slug or id (by id a renamed package keeps its whole window)
-- param: date date null last date (default: the latest)
-- param: days int 90 window in days
-- columns: snapshot_date, slug, activity_score, status, trend, stars, commits_52w, latest_version, recency, consistency, volume, djangopackages_score
-- example: dpw query package_history --param package=django-filter --param days=30
WITH bounds AS (SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics),
window_packages AS (
    SELECT p.* FROM package_snapshots p JOIN bounds
      ON p.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
),
target AS (
    SELECT DISTINCT package_id FROM window_packages
    WHERE slug = $package OR CAST(package_id AS VARCHAR) = $package
)
SELECT m.snapshot_date, p.slug, round(m.activity_score, 1) AS activity_score, m.status, m.trend, m.stars,
       m.commits_52w, m.latest_version, round(m.recency, 3) AS recency, round(m.consistency, 3) AS consistency,
       round(m.volume, 3) AS volume, m.baseline_djangopackages AS djangopackages_score
FROM daily_package_metrics m
JOIN bounds ON m.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
JOIN target USING (package_id)
JOIN window_packages p USING (snapshot_date, package_id)
ORDER BY m.snapshot_date;
