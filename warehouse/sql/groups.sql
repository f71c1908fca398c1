-- title: Categories and grids
-- description: Every category and grid on a date (default: the latest): its packages, how many are active and dormant (inactive or abandoned), and the share active; categories first, then grids, largest first.
-- param: date date null snapshot date (default: the latest)
-- columns: kind, group_id, slug, title, packages, active, dormant, share_active
-- example: dpw query groups
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics),
health AS (
    SELECT 'category' AS kind, h.category_id AS group_id, c.slug, c.title, h.packages, h.active,
           h.inactive + h.abandoned AS dormant, h.share_active
    FROM category_health h JOIN day ON h.snapshot_date = day.d
    LEFT JOIN category_snapshots c ON c.snapshot_date = day.d AND c.category_id = h.category_id
    UNION ALL
    SELECT 'grid', h.grid_id, g.slug, g.title, h.packages, h.active, h.inactive + h.abandoned, h.share_active
    FROM grid_health h JOIN day ON h.snapshot_date = day.d
    LEFT JOIN grid_snapshots g ON g.snapshot_date = day.d AND g.grid_id = h.grid_id
)
SELECT kind, group_id, coalesce(slug, CAST(group_id AS VARCHAR)) AS slug,
       coalesce(title, CAST(group_id AS VARCHAR)) AS title, packages, active, dormant,
       round(share_active, 3) AS share_active
FROM health
ORDER BY kind, packages DESC, title;
