-- One row per grid ever listed: its latest snapshot, and whether the newest snapshot still lists it.
SELECT g.grid_id, g.slug, g.title, g.description, g.is_locked, g.header, g.created_at, g.modified_at,
       g.snapshot_date AS last_seen_date,
       g.snapshot_date = (SELECT max(snapshot_date) FROM grid_snapshots) AS listed
FROM grid_snapshots g
WHERE g.snapshot_date = (SELECT max(snapshot_date) FROM grid_snapshots x WHERE x.grid_id = g.grid_id)
