-- description: Popular packages (many stars) that have gone quiet: low activity score on a date.
-- param: date date null snapshot date (default: the latest)
-- param: min_stars int 100 at least this many stars
-- param: max_score float 20 activity score below this
-- param: limit int 20 how many packages
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics)
SELECT p.slug, m.stars, round(m.activity_score, 1) AS activity_score, m.status,
       CAST(m.last_commit_at AS DATE) AS last_commit, m.baseline_djangopackages AS djangopackages_score
FROM daily_package_metrics m
JOIN day ON m.snapshot_date = day.d
JOIN packages p USING (package_id)
WHERE m.stars >= $min_stars AND m.activity_score < $max_score
ORDER BY m.stars DESC, p.slug
LIMIT $limit;
