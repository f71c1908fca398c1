-- title: Score distribution
-- description: How many packages of each status score in each band of 10 points on a date (default: the latest); a package without a score (status unknown) has a null band.
-- param: date date null snapshot date (default: the latest)
-- columns: band_start, band_end, status, packages
-- example: dpw query score_distribution --param date=2026-06-11
-- A score of 100 falls in the 90-100 band (least() ignores a null, hence the CASE). Only the date's rows
-- are read.
WITH day AS (SELECT coalesce($date, max(snapshot_date)) AS d FROM daily_package_metrics),
banded AS (
    SELECT CASE WHEN m.activity_score IS NOT NULL
                THEN CAST(least(floor(m.activity_score / 10), 9) * 10 AS INTEGER) END AS band_start, m.status
    FROM daily_package_metrics m JOIN day ON m.snapshot_date = day.d
)
SELECT band_start, band_start + 10 AS band_end, status, count(*) AS packages
FROM banded
GROUP BY band_start, status
ORDER BY band_start NULLS LAST,
         list_position(['active', 'slowing', 'stale', 'inactive', 'abandoned', 'unknown'], status);
