"""weekly_commits: every package's weekly commit counts, stitched from the 52-week window of each snapshot.

Each row of `daily_package_metrics` with weeks holds the counts of the 52 weeks ending at its
`weeks_anchor_at`, oldest first; a week is keyed by its Monday (UTC). The table has one row per (package,
week) that some snapshot counts (a NULL entry counts nothing), from the latest such snapshot: a week first
seen partial is replaced as later snapshots see it complete, and two snapshots ten weeks apart give 62 weeks.

Publishing a date D changes only D's observations, and a week's row is the latest observation of it, so
`refresh` needs no other snapshot for most weeks: a week D counts is D's unless the table already holds a
later observation of it, which stays. Only a week whose row came from D and that D no longer counts (a
recompute gave another array or anchor) needs the earlier snapshots: the latest that counts it is found
among the package's snapshots dated from that week to D, since a snapshot's weeks all start on or before
its date (the model checks it). Without one the row goes.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from warehouse.contracts import WeeklyCommit, validate

if TYPE_CHECKING:
    from warehouse.store import Warehouse

TABLE = "weekly_commits"
TABLES = (TABLE,)
# The published tables whose rows of a date this step reads, each with the columns it reads (None: all): a
# publication that leaves them as they were leaves this step's tables as they were too. A rescore changes
# the scores, not the weeks.
INPUTS: dict[str, tuple[str, ...] | None] = {
    "daily_package_metrics": ("package_id", "snapshot_date", "weeks", "weeks_anchor_at", "weeks_source")
}
# The migrations that made or changed these tables: applying one rebuilds this step and those after it.
MIGRATIONS = (3,)
_COLUMNS = "package_id, week_start, commits, source, observed_on"

# Every count of the daily_package_metrics rows {where} keeps (a condition on `m`), placed on its week.
# timezone('UTC', ...) makes the week independent of the session's time zone; the anchor is when the newest
# week ends, so the instant just before it lies in that week.
_OBSERVED = """
SELECT package_id, CAST(last_week - to_days(CAST(7 * (n - i) AS INTEGER)) AS DATE) AS week_start,
       commits, source, observed_on
FROM (
    SELECT m.package_id, m.snapshot_date AS observed_on, m.weeks_source AS source,
           unnest(m.weeks) AS commits, generate_subscripts(m.weeks, 1) AS i, len(m.weeks) AS n,
           CAST(date_trunc('week', timezone('UTC', m.weeks_anchor_at - INTERVAL 1 MICROSECOND)) AS DATE)
               AS last_week
    FROM daily_package_metrics m
    WHERE m.weeks IS NOT NULL AND m.weeks_anchor_at IS NOT NULL AND ({where})
)
WHERE commits IS NOT NULL
"""

# The latest of each (package, week)'s observations in {observed}.
_LATEST = """
SELECT package_id, week_start, arg_max(commits, observed_on) AS commits, arg_max(source, observed_on) AS source,
       max(observed_on) AS observed_on
FROM ({observed})
GROUP BY package_id, week_start
"""


def observed(where: str) -> str:
    return _OBSERVED.format(where=where)


def latest(observations: str) -> str:
    return _LATEST.format(observed=observations)


def rebuild(wh: Warehouse) -> None:
    """Every week of every package, from every snapshot."""
    rows = wh.query(f"SELECT {_COLUMNS} FROM ({latest(observed('true'))}) ORDER BY package_id, week_start")
    with wh.transaction() as conn:
        conn.execute(f"DELETE FROM {TABLE}")
        wh.append(TABLE, _checked(rows))


# _wc_day: what `day` counts now. _wc_lost: the weeks whose row came from `day` and that it no longer counts.
_REFRESH_INPUTS = (
    f"CREATE OR REPLACE TEMP TABLE _wc_day AS {observed('m.snapshot_date = $d')}",
    f"""
CREATE OR REPLACE TEMP TABLE _wc_lost AS
SELECT package_id, week_start FROM {TABLE} WHERE observed_on = $d
EXCEPT SELECT package_id, week_start FROM _wc_day
""",
)

# The latest earlier count of each lost week, from the snapshots of its package dated from the earliest
# lost week on (none earlier can count it).
_EARLIER = latest(
    observed(
        "m.snapshot_date < $d AND m.snapshot_date >= (SELECT min(week_start) FROM _wc_lost) "
        "AND m.package_id IN (SELECT package_id FROM _wc_lost)"
    )
)

# The new rows: `day`'s counts of the weeks no later snapshot counts, and the earlier counts of lost weeks.
_REFRESH_ROWS = f"""
SELECT {_COLUMNS} FROM _wc_day d
WHERE NOT EXISTS (
    SELECT 1 FROM {TABLE} w
    WHERE w.package_id = d.package_id AND w.week_start = d.week_start AND w.observed_on > $d
)
UNION ALL
SELECT {_COLUMNS} FROM ({_EARLIER}) o
WHERE EXISTS (SELECT 1 FROM _wc_lost l WHERE l.package_id = o.package_id AND l.week_start = o.week_start)
ORDER BY package_id, week_start
"""


def refresh(wh: Warehouse, day: date) -> None:
    """The weeks publishing ``day`` changes: those it counts, and those whose row it gave and no longer does."""
    params = {"d": day}
    with wh.transaction() as conn:
        for statement in _REFRESH_INPUTS:
            conn.execute(statement, params)
        rows = _checked(wh.query(_REFRESH_ROWS, params))
        conn.execute(
            f"""
DELETE FROM {TABLE} w USING (
    SELECT package_id, week_start FROM _wc_day UNION SELECT package_id, week_start FROM _wc_lost
) k
WHERE w.package_id = k.package_id AND w.week_start = k.week_start AND w.observed_on <= $d
""",
            params,
        )
        wh.append(TABLE, rows)
        for temp in ("_wc_day", "_wc_lost"):
            conn.execute(f"DROP TABLE {temp}")


def _checked(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows, once their model accepts every one: a computed week that fails it is a bug, not data."""
    result = validate(WeeklyCommit, rows)
    if result.failures.height:
        from warehouse.store import WarehouseError

        raise WarehouseError(f"{TABLE}: computed weeks fail their model:\n{result.failures}")
    return rows
