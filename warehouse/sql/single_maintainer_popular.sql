-- title: Popular packages with one maintainer
-- description: Popular packages whose commits of the last year come from a single participant on a date (default: the latest): a bus factor of one.
-- param: date date null snapshot date (default: the latest)
-- param: min_stars int 100 at least this many stars
-- param: limit int 20 how many packages
-- columns: slug, stars, participants, activity_score, status, last_commit
-- example: dpw query single_maintainer_popular --param min_stars=500
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics)
SELECT p.slug, m.stars, c.participants, round(m.activity_score, 1) AS activity_score, m.status,
       CAST(m.last_commit_at AS DATE) AS last_commit
FROM package_contributors c
JOIN day ON c.snapshot_date = day.d
JOIN daily_package_metrics m ON m.snapshot_date = day.d AND m.package_id = c.package_id
JOIN package_snapshots p ON p.snapshot_date = day.d AND p.package_id = c.package_id
WHERE c.single_maintainer AND m.stars >= $min_stars
ORDER BY m.stars DESC, p.slug
LIMIT $limit;
