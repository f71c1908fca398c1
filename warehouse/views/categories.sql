-- One row per category ever listed: its latest snapshot, and whether the newest snapshot still lists it.
SELECT c.category_id, c.slug, c.title, c.title_plural, c.description, c.show_pypi, c.created_at, c.modified_at,
       c.snapshot_date AS last_seen_date,
       c.snapshot_date = (SELECT max(snapshot_date) FROM category_snapshots) AS listed
FROM category_snapshots c
WHERE c.snapshot_date = (SELECT max(snapshot_date) FROM category_snapshots x WHERE x.category_id = c.category_id)
