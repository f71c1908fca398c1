-- Each snapshot holds a 52-week window; stitching every window gives a weekly series that grows past 52
-- weeks. Weeks are keyed by their Monday; a later observation of the same week wins (the newest week is
-- partial when first seen).
WITH observed AS (
    SELECT package_id, snapshot_date, weeks_source,
           unnest(weeks) AS commits,
           generate_subscripts(weeks, 1) AS i,
           len(weeks) AS n,
           -- timezone('UTC', ...) makes the day independent of the reader's session time zone
           CAST(date_trunc('week', timezone('UTC', weeks_anchor_at - INTERVAL 1 MICROSECOND)) AS DATE) AS last_week
    FROM daily_package_metrics
    WHERE weeks IS NOT NULL
)
SELECT package_id,
       CAST(last_week - to_days(CAST(7 * (n - i) AS INTEGER)) AS DATE) AS week_start,
       arg_max(commits, snapshot_date) AS commits,
       arg_max(weeks_source, snapshot_date) AS source,
       max(snapshot_date) AS observed_on
FROM observed
WHERE commits IS NOT NULL
GROUP BY package_id, week_start
