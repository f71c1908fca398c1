-- title: Recent runs
-- description: The last N ingest runs, newest first: what they did, how long they took, what they accepted and rejected, and the guards that fired.
-- param: runs int 10 how many runs
-- columns: run_id, snapshot_date, mode, status, started_at, seconds, records_fetched, records_accepted, records_rejected, packages_scored, guards_warn, guards_fail, guards_allowed, message
-- example: dpw query recent_runs --param runs=30
WITH recent AS (
    SELECT * FROM ingest_runs ORDER BY started_at DESC, run_id LIMIT $runs
),
guards AS (
    SELECT g.run_id, count_if(g.level = 'warn') AS warn, count_if(g.level = 'fail') AS fail,
           count_if(g.level = 'allowed') AS allowed
    FROM guard_results g SEMI JOIN recent r USING (run_id)
    GROUP BY g.run_id
)
SELECT r.run_id, r.snapshot_date, r.mode, r.status, r.started_at,
       round(epoch(r.finished_at) - epoch(r.started_at), 1) AS seconds,
       r.records_fetched, r.records_accepted, r.records_rejected, r.packages_scored,
       coalesce(g.warn, 0) AS guards_warn, coalesce(g.fail, 0) AS guards_fail,
       coalesce(g.allowed, 0) AS guards_allowed, r.message
FROM recent r LEFT JOIN guards g USING (run_id)
ORDER BY r.started_at DESC, r.run_id;
