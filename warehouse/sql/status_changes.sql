-- title: Newly dormant or revived
-- description: Packages whose status crossed the dormant line (inactive or abandoned) in the last N days up to a date: newly_dormant (default), revived, changed (any other change), or all of them.
-- param: kind str newly_dormant newly_dormant, revived, changed or all
-- param: package str null only this package, by slug or id (default: every package)
-- param: date date null last date (default: the latest)
-- param: days int 30 window in days
-- columns: snapshot_date, slug, status_before, status_now, previous_date, stars, activity_score, last_commit
-- example: dpw query status_changes --param kind=revived --param days=90
WITH bounds AS (SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics),
-- Materialized, each read alone, with scalar bounds the scans apply; the metrics and names are read only for
-- the packages that made a transition (a filter on the key columns first), not for every package of the window.
transitions AS MATERIALIZED (
    SELECT t.* FROM status_transitions t
    WHERE t.snapshot_date > (SELECT last_day - CAST($days AS INTEGER) FROM bounds)
      AND t.snapshot_date <= (SELECT last_day FROM bounds) AND (t.kind = $kind OR $kind = 'all')
      -- one package: its ids (any slug it held in the window, from the attribute history, or the id as
      -- written), so only its transitions are read further
      AND ($package IS NULL OR CAST(t.package_id AS VARCHAR) = $package OR t.package_id IN (
          SELECT a.package_id FROM attribute_history a
          WHERE a.attribute = 'slug' AND a.value = $package AND a.valid_from <= (SELECT last_day FROM bounds)
            AND (a.valid_to IS NULL OR a.valid_to > (SELECT last_day - CAST($days AS INTEGER) FROM bounds))))
),
metrics AS MATERIALIZED (
    SELECT m.snapshot_date, m.package_id, m.stars, m.activity_score, m.last_commit_at
    FROM daily_package_metrics m
    WHERE m.snapshot_date > (SELECT last_day - CAST($days AS INTEGER) FROM bounds)
      AND m.snapshot_date <= (SELECT last_day FROM bounds)
      AND m.package_id IN (SELECT package_id FROM transitions)
),
names AS MATERIALIZED (
    SELECT p.snapshot_date, p.package_id, p.slug FROM package_snapshots p
    WHERE p.snapshot_date > (SELECT last_day - CAST($days AS INTEGER) FROM bounds)
      AND p.snapshot_date <= (SELECT last_day FROM bounds)
      AND p.package_id IN (SELECT package_id FROM transitions)
)
SELECT t.snapshot_date, p.slug, t.status_before, t.status_now, t.previous_date, m.stars,
       round(m.activity_score, 1) AS activity_score, CAST(m.last_commit_at AS DATE) AS last_commit
FROM transitions t
JOIN metrics m USING (snapshot_date, package_id)
JOIN names p USING (snapshot_date, package_id)
-- By id, so a package renamed in the window keeps its earlier transitions.
WHERE $package IS NULL
   OR t.package_id IN (SELECT package_id FROM names WHERE slug = $package OR CAST(package_id AS VARCHAR) = $package)
ORDER BY t.snapshot_date DESC, m.stars DESC, p.slug;
