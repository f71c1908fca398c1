-- title: Most active by category
-- description: The most active packages of each category on a date (default: the latest), by DPAS score.
-- param: date date null snapshot date (default: the latest)
-- param: limit int 5 packages per category
-- columns: category, rank, slug, activity_score, status, trend, commits_52w, stars
-- example: dpw query most_active_by_category --param limit=3
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics),
ranked AS (
    SELECT coalesce(c.title, 'uncategorised') AS category, p.slug, m.activity_score, m.status, m.trend,
           m.commits_52w, m.stars,
           row_number() OVER (PARTITION BY p.category_id ORDER BY m.activity_score DESC, p.slug) AS rank
    FROM daily_package_metrics m
    JOIN day ON m.snapshot_date = day.d
    JOIN package_snapshots p ON p.package_id = m.package_id AND p.snapshot_date = m.snapshot_date
    LEFT JOIN category_snapshots c ON c.snapshot_date = day.d AND c.category_id = p.category_id
    WHERE m.activity_score IS NOT NULL
)
SELECT category, rank, slug, round(activity_score, 1) AS activity_score, status, trend, commits_52w, stars
FROM ranked
WHERE rank <= $limit
ORDER BY category, rank;
