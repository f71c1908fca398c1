-- title: Weakest grids
-- description: The grids with the largest share of dormant packages (inactive or abandoned) on a date (default: the latest), among grids of at least N packages.
-- param: date date null snapshot date (default: the latest)
-- param: min_packages int 5 only grids with at least this many packages
-- param: limit int 20 how many grids
-- columns: grid, packages, active, dormant, share_dormant, share_active, median_score
-- example: dpw query grid_health --param min_packages=10
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics)
SELECT coalesce(g.title, CAST(h.grid_id AS VARCHAR)) AS grid, h.packages, h.active,
       h.inactive + h.abandoned AS dormant,
       round((h.inactive + h.abandoned) / h.packages, 3) AS share_dormant,
       round(h.share_active, 3) AS share_active, round(h.median_score, 1) AS median_score
FROM grid_health h
JOIN day ON h.snapshot_date = day.d
LEFT JOIN grid_snapshots g ON g.snapshot_date = day.d AND g.grid_id = h.grid_id
WHERE h.packages >= $min_packages
ORDER BY share_dormant DESC, h.packages DESC, grid
LIMIT $limit;
