-- title: Django support over time
-- description: How many packages declare support for each Django version, on each date of a window (default: the last 90 days up to the latest date), newest version first.
-- param: date date null last date (default: the latest)
-- param: days int 90 window in days
-- param: every int 7 one date every N days, counted back from the last (1: every date)
-- columns: django_version, snapshot_date, packages, share
-- example: dpw query django_support_matrix --param days=365 --param every=30
WITH bounds AS (SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics)
SELECT s.django_version, s.snapshot_date, s.packages, round(s.share, 3) AS share
FROM django_support s
JOIN bounds
  ON s.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
 AND (bounds.last_day - s.snapshot_date) % CAST($every AS INTEGER) = 0
ORDER BY TRY_CAST(string_split(s.django_version, '.') AS INTEGER[]) DESC NULLS LAST, s.django_version DESC,
         s.snapshot_date;
