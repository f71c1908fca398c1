-- title: Ranking in a category or grid
-- description: The packages of one category or grid on a date (default: the latest), most active first: score, its change over 30 days, status, trend, stars, and the score on each date of a window (for a sparkline).
-- param: kind str category category or grid
-- param: group str required the category or grid, by slug or id
-- param: date date null snapshot date (default: the latest)
-- param: days int 30 the window of the score history, in days
-- param: limit int 50 how many packages
-- columns: rank, package_id, slug, title, activity_score, change_30d, status, trend, stars, stars_30d, history
-- example: dpw query group_ranking --param kind=grid --param group=rest-frameworks --param limit=10
-- Members are the group's on the date. history lists {snapshot_date, activity_score} oldest first; only the
-- ranked packages' rows of the window are read.
WITH bounds AS (SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics),
-- The group's members on the date; materialized, so the day is found before any table is joined to it.
members AS MATERIALIZED (
    SELECT p.package_id FROM package_snapshots p
    JOIN bounds ON p.snapshot_date = bounds.last_day
    JOIN category_snapshots c ON c.snapshot_date = bounds.last_day AND c.category_id = p.category_id
    WHERE $kind = 'category' AND (c.slug = $group OR CAST(c.category_id AS VARCHAR) = $group)
    UNION
    SELECT m.package_id FROM grid_package_snapshots m
    JOIN bounds ON m.snapshot_date = bounds.last_day
    JOIN grid_snapshots g ON g.snapshot_date = bounds.last_day AND g.grid_id = m.grid_id
    WHERE CASE WHEN $kind IN ('category', 'grid') THEN $kind = 'grid'
               ELSE error('group_ranking: kind must be category or grid') END
      AND (g.slug = $group OR CAST(g.grid_id AS VARCHAR) = $group)
),
ranked AS MATERIALIZED (
    SELECT row_number() OVER (ORDER BY m.activity_score DESC NULLS LAST, p.slug) AS rank,
           m.package_id, p.slug, p.title, m.activity_score, d.score_30d, m.status, m.trend, m.stars, d.stars_30d
    FROM daily_package_metrics m
    JOIN bounds ON m.snapshot_date = bounds.last_day
    JOIN members USING (package_id)
    JOIN package_snapshots p ON p.snapshot_date = bounds.last_day AND p.package_id = m.package_id
    LEFT JOIN package_deltas d ON d.snapshot_date = bounds.last_day AND d.package_id = m.package_id
    QUALIFY rank <= $limit
),
history AS MATERIALIZED (
    SELECT m.package_id,
           list({'snapshot_date': m.snapshot_date, 'activity_score': round(m.activity_score, 1)}
                ORDER BY m.snapshot_date) AS history
    FROM daily_package_metrics m JOIN bounds
      ON m.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
    WHERE m.package_id IN (SELECT package_id FROM ranked)
    GROUP BY m.package_id
)
SELECT r.rank, r.package_id, r.slug, r.title, round(r.activity_score, 1) AS activity_score,
       round(r.score_30d, 1) AS change_30d, r.status, r.trend, r.stars, r.stars_30d, h.history
FROM ranked r LEFT JOIN history h USING (package_id)
ORDER BY r.rank;
