-- Each participation answer keeps GitHub's ETag, so the next request can send If-None-Match and an unchanged
-- answer costs a 304 (free of quota) instead of a full request; and the date the weekly array was fetched, so
-- an array reused on a later date (answered 304, or not asked because nothing was pushed) is scored as
-- ending on that date rather than on the snapshot date.
ALTER TABLE repository_snapshots ADD COLUMN participation_etag VARCHAR;
ALTER TABLE repository_snapshots ADD COLUMN participation_fetched_on DATE;
