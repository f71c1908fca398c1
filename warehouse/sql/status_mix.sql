-- title: Status mix
-- description: How many packages had each status on each date of a window (default: the last 30 days up to the latest date); dormant is inactive plus abandoned.
-- param: date date null last date (default: the latest)
-- param: days int 30 window in days
-- columns: snapshot_date, packages, active, slowing, stale, inactive, abandoned, unknown, dormant, share_dormant
-- example: dpw query status_mix --param days=90
WITH bounds AS (SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics)
SELECT m.snapshot_date, count(*) AS packages,
       count_if(m.status = 'active') AS active, count_if(m.status = 'slowing') AS slowing,
       count_if(m.status = 'stale') AS stale, count_if(m.status = 'inactive') AS inactive,
       count_if(m.status = 'abandoned') AS abandoned, count_if(m.status = 'unknown') AS unknown,
       count_if(m.status IN ('inactive', 'abandoned')) AS dormant,
       round(count_if(m.status IN ('inactive', 'abandoned')) / count(*), 3) AS share_dormant
FROM daily_package_metrics m
JOIN bounds ON m.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
GROUP BY m.snapshot_date
ORDER BY m.snapshot_date;
