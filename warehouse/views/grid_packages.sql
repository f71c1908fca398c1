-- Grid membership at the newest snapshot only: a package that left a grid is no longer in it.
SELECT grid_id, package_id
FROM grid_package_snapshots
WHERE snapshot_date = (SELECT max(snapshot_date) FROM grid_package_snapshots)
