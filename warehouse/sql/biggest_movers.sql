-- title: Biggest movers
-- description: Packages whose activity score moved most over the last N days (default 7) up to a date: the score on that date against the package's first score in the window.
-- param: date date null end date (default: the latest)
-- param: days int 7 window in days
-- param: limit int 10 how many packages
-- columns: slug, score_before, score_now, change, stars_gained, trend
-- example: dpw query biggest_movers --param days=30 --param limit=20
-- Only the window's dates are read: each package's first date in it is found by grouping those rows,
-- never by a lookup per package over all history.
WITH bounds AS (
    SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics
),
window_rows AS (
    SELECT m.package_id, m.snapshot_date, m.activity_score, m.stars, m.trend
    FROM daily_package_metrics m JOIN bounds
      ON m.snapshot_date BETWEEN bounds.last_day - CAST($days AS INTEGER) AND bounds.last_day
),
firsts AS (
    SELECT package_id, min(snapshot_date) AS first_day FROM window_rows GROUP BY package_id
),
pairs AS (
    SELECT now_.package_id,
           now_.activity_score AS score_now,
           past.activity_score AS score_before,
           now_.stars - past.stars AS stars_gained,
           now_.trend
    FROM window_rows now_
    JOIN bounds ON now_.snapshot_date = bounds.last_day
    JOIN firsts USING (package_id)
    JOIN window_rows past ON past.package_id = now_.package_id AND past.snapshot_date = firsts.first_day
    WHERE now_.activity_score IS NOT NULL AND past.activity_score IS NOT NULL
)
SELECT p.slug, round(score_before, 1) AS score_before, round(score_now, 1) AS score_now,
       round(score_now - score_before, 1) AS change, stars_gained, trend
FROM pairs JOIN bounds ON true
JOIN package_snapshots p ON p.snapshot_date = bounds.last_day AND p.package_id = pairs.package_id
WHERE score_now <> score_before
ORDER BY abs(score_now - score_before) DESC, p.slug
LIMIT $limit;
