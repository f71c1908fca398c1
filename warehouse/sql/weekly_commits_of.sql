-- title: Weekly commits of a package
-- description: A package's stitched weekly commit counts (every snapshot's 52 weeks joined into one series), the last N weeks up to a date.
-- param: package str required package slug or id
-- param: date date null the series ends with this date's week (default: the latest date)
-- param: weeks int 104 how many weeks
-- columns: week_start, commits, source, observed_on
-- example: dpw query weekly_commits_of --param package=django-filter --param weeks=156
WITH bounds AS (SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics),
target AS (
    SELECT DISTINCT p.package_id FROM package_snapshots p JOIN bounds ON p.snapshot_date = bounds.last_day
    WHERE p.slug = $package OR CAST(p.package_id AS VARCHAR) = $package
)
SELECT w.week_start, w.commits, w.source, w.observed_on
FROM weekly_commits w
JOIN target USING (package_id)
JOIN bounds ON w.week_start > bounds.last_day - CAST(7 * $weeks AS INTEGER) AND w.week_start <= bounds.last_day
ORDER BY w.week_start;
