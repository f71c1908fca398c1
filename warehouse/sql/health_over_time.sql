-- title: Category or grid health over time
-- description: The share of active packages and the median and 75th-percentile score of each category (or grid) on each date of a window (default: the last 90 days up to the latest date); one of them with `group`.
-- param: kind str category category or grid
-- param: group str null only this category or grid, by slug or id (default: all)
-- param: date date null last date (default: the latest)
-- param: days int 90 window in days
-- columns: snapshot_date, kind, group_id, slug, title, packages, active, dormant, share_active, median_score, p75_score
-- example: dpw query health_over_time --param kind=grid --param days=30
-- Dormant is inactive plus abandoned. Each group is named as it was called on each date; by id, a renamed
-- one keeps its whole window.
WITH bounds AS (
    SELECT coalesce($date, max(snapshot_date)) AS last_day,
           CASE WHEN $kind IN ('category', 'grid') THEN $kind
                ELSE error('health_over_time: kind must be category or grid') END AS kind
    FROM daily_package_metrics
),
-- Materialized, each read alone: joined as they are, DuckDB could read every date to build a hash table.
health AS MATERIALIZED (
    SELECT 'category' AS kind, h.snapshot_date, h.category_id AS group_id, h.packages, h.active,
           h.inactive + h.abandoned AS dormant, h.share_active, h.median_score, h.p75_score
    FROM category_health h JOIN bounds
      ON h.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
    WHERE bounds.kind = 'category'
    UNION ALL
    SELECT 'grid', h.snapshot_date, h.grid_id, h.packages, h.active, h.inactive + h.abandoned,
           h.share_active, h.median_score, h.p75_score
    FROM grid_health h JOIN bounds
      ON h.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
    WHERE bounds.kind = 'grid'
),
names AS MATERIALIZED (
    SELECT 'category' AS kind, c.snapshot_date, c.category_id AS group_id, c.slug, c.title
    FROM category_snapshots c JOIN bounds
      ON c.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
    WHERE bounds.kind = 'category'
    UNION ALL
    SELECT 'grid', g.snapshot_date, g.grid_id, g.slug, g.title
    FROM grid_snapshots g JOIN bounds
      ON g.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
    WHERE bounds.kind = 'grid'
),
target AS (
    SELECT DISTINCT group_id FROM names WHERE slug = $group OR CAST(group_id AS VARCHAR) = $group
)
SELECT h.snapshot_date, h.kind, h.group_id, coalesce(n.slug, CAST(h.group_id AS VARCHAR)) AS slug,
       coalesce(n.title, CAST(h.group_id AS VARCHAR)) AS title, h.packages, h.active, h.dormant,
       round(h.share_active, 3) AS share_active, round(h.median_score, 1) AS median_score,
       round(h.p75_score, 1) AS p75_score
FROM health h
LEFT JOIN names n USING (kind, snapshot_date, group_id)
WHERE $group IS NULL OR h.group_id IN (SELECT group_id FROM target)
ORDER BY h.snapshot_date, title, h.group_id;
