-- title: Attribute changes
-- description: What changed about packages in the last N days up to a date (default: the latest): each change of a tracked attribute, its old and new value. A package's first values are not changes.
-- param: date date null last date (default: the latest)
-- param: days int 7 window in days
-- param: attribute str null only this attribute (default: all)
-- columns: changed_on, slug, attribute, old_value, new_value
-- example: dpw query attribute_changes --param days=30 --param attribute=repo_url
WITH bounds AS (SELECT coalesce($date, max(snapshot_date)) AS last_day FROM daily_package_metrics),
-- Materialized, each read alone: joined as they are, DuckDB could read every date to build a hash table.
changed AS MATERIALIZED (
    SELECT a.* FROM attribute_history a JOIN bounds
      ON a.valid_from > bounds.last_day - CAST($days AS INTEGER) AND a.valid_from <= bounds.last_day
    WHERE $attribute IS NULL OR a.attribute = $attribute
),
ended AS MATERIALIZED (  -- the values the changes replaced: those that ended in the window
    SELECT o.* FROM attribute_history o JOIN bounds
      ON o.valid_to > bounds.last_day - CAST($days AS INTEGER) AND o.valid_to <= bounds.last_day
),
names AS MATERIALIZED (  -- the slugs of the changed packages only (a filter on the key columns first)
    SELECT p.snapshot_date, p.package_id, p.slug FROM package_snapshots p
    WHERE p.snapshot_date > (SELECT last_day - CAST($days AS INTEGER) FROM bounds)
      AND p.snapshot_date <= (SELECT last_day FROM bounds)
      AND p.package_id IN (SELECT package_id FROM changed)
)
SELECT n.valid_from AS changed_on, p.slug, n.attribute, o.value AS old_value, n.value AS new_value
FROM changed n
JOIN ended o
  ON o.package_id = n.package_id AND o.attribute = n.attribute AND o.valid_to = n.valid_from
JOIN names p ON p.snapshot_date = n.valid_from AND p.package_id = n.package_id
ORDER BY changed_on DESC, p.slug, n.attribute;
