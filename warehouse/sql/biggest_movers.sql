-- description: Packages whose activity score moved most over the last N days (default 7) up to a date.
-- param: date date null end date (default: the latest)
-- param: days int 7 window in days
-- param: limit int 10 how many packages
WITH bounds AS (
    SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics
),
pairs AS (
    SELECT now_.package_id,
           now_.activity_score AS score_now,
           past.activity_score AS score_before,
           now_.stars - past.stars AS stars_gained,
           now_.trend
    FROM daily_package_metrics now_
    JOIN bounds ON now_.snapshot_date = bounds.last_day
    JOIN daily_package_metrics past
      ON past.package_id = now_.package_id
     AND past.snapshot_date = (
         SELECT min(snapshot_date) FROM daily_package_metrics x
         WHERE x.package_id = now_.package_id
           AND x.snapshot_date >= bounds.last_day - to_days(CAST($days AS INTEGER))
     )
    WHERE now_.activity_score IS NOT NULL AND past.activity_score IS NOT NULL
)
SELECT p.slug, round(score_before, 1) AS score_before, round(score_now, 1) AS score_now,
       round(score_now - score_before, 1) AS change, stars_gained, trend
FROM pairs JOIN packages p USING (package_id)
WHERE score_now <> score_before
ORDER BY abs(score_now - score_before) DESC, p.slug
LIMIT $limit;
