-- title: Popular but dormant
-- description: Popular packages (many stars) that have gone quiet on a date: dormant, that is inactive or abandoned.
-- param: date date null snapshot date (default: the latest)
-- param: min_stars int 100 at least this many stars
-- param: limit int 20 how many packages
-- columns: slug, stars, activity_score, status, last_commit, djangopackages_score
-- example: dpw query popular_but_dormant --param min_stars=500
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics)
SELECT p.slug, m.stars, round(m.activity_score, 1) AS activity_score, m.status,
       CAST(m.last_commit_at AS DATE) AS last_commit, m.baseline_djangopackages AS djangopackages_score
FROM daily_package_metrics m
JOIN day ON m.snapshot_date = day.d
JOIN package_snapshots p ON p.snapshot_date = day.d AND p.package_id = m.package_id
WHERE m.stars >= $min_stars AND m.status IN ('inactive', 'abandoned')
ORDER BY m.stars DESC, p.slug
LIMIT $limit;
