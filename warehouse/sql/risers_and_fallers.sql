-- title: Risers and fallers
-- description: The packages whose activity score rose most and fell most over 7, 30 or 90 days up to a date (default: the latest), from the day's deltas; among one category's or grid's packages with `group`.
-- param: date date null snapshot date (default: the latest)
-- param: days int 30 7, 30 or 90
-- param: limit int 10 how many of each
-- param: group str null only the packages of this category or grid, by slug or id (default: every package)
-- param: kind str category whether group names a category or a grid
-- columns: direction, rank, slug, score_now, change, stars, stars_change
-- example: dpw query risers_and_fallers --param days=7 --param limit=5
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics),
-- The group's members on the date; materialized, so the day is found before any table is joined to it.
members AS MATERIALIZED (
    SELECT p.package_id FROM package_snapshots p
    JOIN day ON p.snapshot_date = day.d
    JOIN category_snapshots c ON c.snapshot_date = day.d AND c.category_id = p.category_id
    WHERE $kind = 'category' AND (c.slug = $group OR CAST(c.category_id AS VARCHAR) = $group)
    UNION
    SELECT m.package_id FROM grid_package_snapshots m
    JOIN day ON m.snapshot_date = day.d
    JOIN grid_snapshots g ON g.snapshot_date = day.d AND g.grid_id = m.grid_id
    WHERE CASE WHEN $kind IN ('category', 'grid') THEN $kind = 'grid'
               ELSE error('risers_and_fallers: kind must be category or grid') END
      AND (g.slug = $group OR CAST(g.grid_id AS VARCHAR) = $group)
),
deltas AS (
    SELECT x.package_id, x.activity_score, x.stars,
           CASE CAST($days AS INTEGER) WHEN 7 THEN x.score_7d WHEN 30 THEN x.score_30d WHEN 90 THEN x.score_90d
               ELSE error('risers_and_fallers: days must be 7, 30 or 90') END AS change,
           CASE CAST($days AS INTEGER) WHEN 7 THEN x.stars_7d WHEN 30 THEN x.stars_30d ELSE x.stars_90d END
               AS stars_change
    FROM package_deltas x JOIN day ON x.snapshot_date = day.d
    WHERE $group IS NULL OR x.package_id IN (SELECT package_id FROM members)
),
ranked AS (
    SELECT CASE WHEN change > 0 THEN 'riser' ELSE 'faller' END AS direction,
           row_number() OVER (PARTITION BY change > 0 ORDER BY abs(change) DESC, package_id) AS rank, *
    FROM deltas
    WHERE change <> 0
)
SELECT r.direction, r.rank, p.slug, round(r.activity_score, 1) AS score_now, round(r.change, 1) AS change,
       r.stars, r.stars_change
FROM ranked r
JOIN day ON true
JOIN package_snapshots p ON p.snapshot_date = day.d AND p.package_id = r.package_id
WHERE r.rank <= $limit
ORDER BY r.direction DESC, r.rank;
