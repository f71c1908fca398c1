-- title: Category health
-- description: Each category on a date (default: the latest): packages by status, median and p75 score, the share active, and that share N days earlier.
-- param: date date null snapshot date (default: the latest)
-- param: days int 30 compare with this many days earlier (null when that date was not captured)
-- columns: category, packages, active, slowing, stale, dormant, unknown, median_score, p75_score, share_active, share_active_before, change
-- example: dpw query category_health --param days=90
-- Dormant is inactive plus abandoned. Two dates are read, never the history between them.
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics)
SELECT coalesce(c.title, CAST(h.category_id AS VARCHAR)) AS category, h.packages, h.active, h.slowing,
       h.stale, h.inactive + h.abandoned AS dormant, h.unknown,
       round(h.median_score, 1) AS median_score, round(h.p75_score, 1) AS p75_score,
       round(h.share_active, 3) AS share_active, round(b.share_active, 3) AS share_active_before,
       round(h.share_active - b.share_active, 3) AS change
FROM category_health h
JOIN day ON h.snapshot_date = day.d
LEFT JOIN category_health b
  ON b.snapshot_date = day.d - CAST($days AS INTEGER) AND b.category_id = h.category_id
LEFT JOIN category_snapshots c ON c.snapshot_date = day.d AND c.category_id = h.category_id
ORDER BY h.share_active DESC, h.packages DESC, category;
