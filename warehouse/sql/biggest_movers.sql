-- title: Biggest movers
-- description: Packages whose activity score moved most over the last N days (default 7) up to a date: the score on that date against the package's first score in the window.
-- param: date date null end date (default: the latest)
-- param: days int 7 window in days
-- param: limit int 10 how many packages
-- columns: slug, score_before, score_now, change, stars_gained, trend
-- example: dpw query biggest_movers --param days=30 --param limit=20
-- Two dates are read whole: the last one and the window's first. Only packages absent on the window's first
-- date are looked up on the dates between, by id: never every package's rows of every date.
WITH bounds AS (
    SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics
),
window_start AS (
    SELECT min(snapshot_date) AS first_day FROM daily_package_metrics
    WHERE snapshot_date BETWEEN (SELECT last_day - CAST($days AS INTEGER) FROM bounds) AND (SELECT last_day FROM bounds)
),
now_ AS MATERIALIZED (
    SELECT m.package_id, m.activity_score, m.stars, m.trend
    FROM daily_package_metrics m JOIN bounds ON m.snapshot_date = bounds.last_day
),
starts AS MATERIALIZED (
    SELECT m.package_id, m.activity_score, m.stars
    FROM daily_package_metrics m JOIN window_start ON m.snapshot_date = window_start.first_day
),
-- each package's first row in the window, for those that joined after its first date
late AS MATERIALIZED (
    SELECT m.package_id, arg_min_null(m.activity_score, m.snapshot_date) AS activity_score,
           arg_min_null(m.stars, m.snapshot_date) AS stars
    FROM daily_package_metrics m JOIN bounds
      ON m.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
    WHERE m.package_id IN (SELECT package_id FROM now_ ANTI JOIN starts USING (package_id))
    GROUP BY m.package_id
),
pairs AS (
    SELECT now_.package_id,
           now_.activity_score AS score_now,
           past.activity_score AS score_before,
           now_.stars - past.stars AS stars_gained,
           now_.trend
    FROM now_ JOIN (SELECT * FROM starts UNION ALL SELECT * FROM late) past USING (package_id)
    WHERE now_.activity_score IS NOT NULL AND past.activity_score IS NOT NULL
)
SELECT p.slug, round(score_before, 1) AS score_before, round(score_now, 1) AS score_now,
       round(score_now - score_before, 1) AS change, stars_gained, trend
FROM pairs JOIN bounds ON true
JOIN package_snapshots p ON p.snapshot_date = bounds.last_day AND p.package_id = pairs.package_id
WHERE score_now <> score_before
ORDER BY abs(score_now - score_before) DESC, p.slug
LIMIT $limit;
