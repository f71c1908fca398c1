"""The marts: per-date summaries of the history (see the models in `warehouse.contracts` for every column).

A mart's rows of a date are computed from that date's rows of the core tables; a delta also reads the
package's snapshots 7, 30 and 90 days (up to a week more) earlier, and a transition the previous snapshot
date. So publishing a date recomputes that date and the later dates that read it: the deltas of the dates 7,
30 and 90 days (up to a week more) later and the transitions of the next snapshot date. A recomputed old date
then leaves no stale mart behind, and no refresh reads more than those few dates.

Each mart is one SQL query over a list of target dates ($dates), so a refresh and a rebuild run the same
code: a refresh with the few dates above, a rebuild with every date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

from warehouse import compaction, contracts
from warehouse.contracts import DELTA_DAYS, DELTA_SLACK_DAYS, DORMANT, TABLE_MODELS
from warehouse.scoring.vocabulary import STATUSES

if TYPE_CHECKING:
    from warehouse.store import Warehouse

# What a revived package is now; any other change out of dormancy is only "changed".
REVIVED = ("active", "slowing")
_TARGETS = "targets AS (SELECT DISTINCT unnest(CAST($dates AS DATE[])) AS snapshot_date)"
_METRICS = ("stars", "activity_score", "commits_52w")
# The delta columns' prefixes, in the order of _METRICS.
_DELTA_PREFIXES = ("stars", "score", "commits")


def _delta_columns() -> str:
    return ",\n       ".join(
        f"n.{metric} - any_value(r.{metric}) FILTER (WHERE r.days = {days}) AS {prefix}_{days}d"
        for metric, prefix in zip(_METRICS, _DELTA_PREFIXES, strict=True)
        for days in DELTA_DAYS
    )


# $past: the dates a reference snapshot can come from, so only those are read.
PACKAGE_DELTAS = f"""
WITH {_TARGETS},
now_ AS (
    SELECT snapshot_date, package_id, stars, activity_score, commits_52w
    FROM daily_package_metrics WHERE snapshot_date IN (SELECT snapshot_date FROM targets)
),
past AS (
    SELECT snapshot_date, package_id, stars, activity_score, commits_52w
    FROM daily_package_metrics WHERE snapshot_date IN (SELECT unnest(CAST($past AS DATE[])))
),
refs AS (
    -- The package's latest snapshot on or before the date minus N days (an ASOF join: one sorted pass, not
    -- every pair of dates), kept when it is no older than the slack allows. It is the reference whole: a
    -- null score there makes the score's delta null, it is no reason to look further back.
    SELECT w.snapshot_date, w.package_id, w.days, p.stars, p.activity_score, p.commits_52w
    FROM (
        SELECT n.snapshot_date, n.package_id, o.days, n.snapshot_date - o.days AS reference_day
        FROM now_ n CROSS JOIN (SELECT unnest(CAST($days AS INTEGER[])) AS days) o
    ) w
    ASOF JOIN past p ON p.package_id = w.package_id AND w.reference_day >= p.snapshot_date
    WHERE p.snapshot_date >= w.reference_day - {DELTA_SLACK_DAYS}
)
SELECT n.snapshot_date, n.package_id, n.stars, n.activity_score, n.commits_52w,
       {_delta_columns()}
FROM now_ n LEFT JOIN refs r USING (snapshot_date, package_id)
GROUP BY n.snapshot_date, n.package_id, n.stars, n.activity_score, n.commits_52w
"""


def _health(key: str, members: str) -> str:
    """A health mart of the groups ``members`` gives (snapshot_date, package_id, group_id)."""
    counts = ",\n       ".join(
        f"count(*) FILTER (WHERE m.status = '{status}') AS {status}" for status in STATUSES
    )
    return f"""
WITH {_TARGETS},
members AS ({members})
SELECT g.snapshot_date, g.group_id AS {key}, count(*) AS packages,
       {counts},
       quantile_cont(m.activity_score, 0.5) AS median_score,
       quantile_cont(m.activity_score, 0.75) AS p75_score,
       count(*) FILTER (WHERE m.status = 'active') / count(*) AS share_active
FROM members g
JOIN daily_package_metrics m USING (snapshot_date, package_id)
WHERE m.snapshot_date IN (SELECT snapshot_date FROM targets)
GROUP BY g.snapshot_date, g.group_id
"""


CATEGORY_HEALTH = _health(
    "category_id",
    "SELECT snapshot_date, package_id, category_id AS group_id FROM package_snapshots "
    "WHERE category_id IS NOT NULL AND snapshot_date IN (SELECT snapshot_date FROM targets)",
)
GRID_HEALTH = _health(
    "grid_id",
    "SELECT snapshot_date, package_id, grid_id AS group_id FROM grid_package_snapshots "
    "WHERE snapshot_date IN (SELECT snapshot_date FROM targets)",
)

# $dates and $previous are parallel lists: each target date with its previous snapshot date.
STATUS_TRANSITIONS = """
WITH pairs AS (
    SELECT unnest(CAST($dates AS DATE[])) AS snapshot_date, unnest(CAST($previous AS DATE[])) AS previous_date
)
SELECT n.snapshot_date, n.package_id, pairs.previous_date, b.status AS status_before, n.status AS status_now,
       CASE
           WHEN NOT list_contains($dormant, b.status) AND list_contains($dormant, n.status) THEN 'newly_dormant'
           WHEN list_contains($dormant, b.status) AND list_contains($revived, n.status) THEN 'revived'
           ELSE 'changed'
       END AS kind
FROM pairs
JOIN daily_package_metrics n ON n.snapshot_date = pairs.snapshot_date
JOIN daily_package_metrics b ON b.snapshot_date = pairs.previous_date AND b.package_id = n.package_id
WHERE n.status <> b.status
"""

# A package's PyPI project is the one of its pypi_name found (status ok) that date.
_PROJECTS = """
projects AS (
    SELECT p.snapshot_date, p.package_id, p.pypi_name, pp.django_versions
    FROM package_snapshots p
    JOIN pypi_projects pp USING (snapshot_date, pypi_name)
    WHERE pp.status = 'ok' AND p.snapshot_date IN (SELECT snapshot_date FROM targets)
)"""

RELEASE_CADENCE = f"""
WITH {_TARGETS},
{_PROJECTS},
uploads AS (
    SELECT snapshot_date, pypi_name, version, uploaded_at,
           epoch(uploaded_at) - epoch(lag(uploaded_at) OVER (
               PARTITION BY snapshot_date, pypi_name ORDER BY uploaded_at, version)) AS gap_seconds
    FROM release_snapshots
    WHERE NOT yanked AND uploaded_at IS NOT NULL AND snapshot_date IN (SELECT snapshot_date FROM targets)
),
cadence AS (
    SELECT snapshot_date, pypi_name, count(*) AS releases,
           -- the version breaks a tie of upload times, so every run names the same one
           arg_max(version, struct_pack(uploaded_at, version)) AS latest_version,
           max(uploaded_at) AS latest_release_at,
           median(gap_seconds) / 86400 AS median_days_between,
           count(*) FILTER (WHERE CAST(timezone('UTC', uploaded_at) AS DATE) > snapshot_date - 365)
               AS releases_365d
    FROM uploads GROUP BY snapshot_date, pypi_name
)
SELECT p.snapshot_date, p.pypi_name, p.package_id, coalesce(c.releases, 0) AS releases, c.latest_version,
       c.latest_release_at,
       p.snapshot_date - CAST(timezone('UTC', c.latest_release_at) AS DATE) AS latest_age_days,
       c.median_days_between, coalesce(c.releases_365d, 0) AS releases_365d
FROM projects p LEFT JOIN cadence c USING (snapshot_date, pypi_name)
"""

DJANGO_SUPPORT = f"""
WITH {_TARGETS},
{_PROJECTS},
totals AS (SELECT snapshot_date, count(*) AS with_project FROM projects GROUP BY snapshot_date),
declared AS (SELECT snapshot_date, package_id, unnest(django_versions) AS django_version FROM projects)
SELECT d.snapshot_date, d.django_version, count(*) AS packages, count(*) / any_value(t.with_project) AS share
FROM declared d JOIN totals t USING (snapshot_date)
GROUP BY d.snapshot_date, d.django_version
"""

PACKAGE_CONTRIBUTORS = f"""
WITH {_TARGETS}
SELECT snapshot_date, package_id, len(participants) AS participants, len(participants) <= 1 AS single_maintainer
FROM package_snapshots WHERE snapshot_date IN (SELECT snapshot_date FROM targets)
"""

# The marts that read only their own date, by table.
SAME_DAY = {
    "category_health": CATEGORY_HEALTH,
    "grid_health": GRID_HEALTH,
    "release_cadence": RELEASE_CADENCE,
    "django_support": DJANGO_SUPPORT,
    "package_contributors": PACKAGE_CONTRIBUTORS,
}
TABLES: tuple[str, ...] = (
    "package_deltas",
    "category_health",
    "grid_health",
    "status_transitions",
    "release_cadence",
    "django_support",
    "package_contributors",
)
MIGRATIONS = (5,)  # as in warehouse/stitching.py
INPUTS: dict[str, tuple[str, ...] | None] = dict.fromkeys(  # as in warehouse/stitching.py
    (
        "daily_package_metrics",
        "grid_package_snapshots",
        "package_snapshots",
        "pypi_projects",
        "release_snapshots",
    )
)


# How many days before a date a snapshot its deltas read can be.
DELTA_OFFSETS = tuple(n + k for n in DELTA_DAYS for k in range(DELTA_SLACK_DAYS + 1))


def delta_dependents(day: date) -> list[date]:
    """The dates whose deltas read ``day``."""
    return [day + timedelta(days=offset) for offset in DELTA_OFFSETS]


def delta_references(dates: Sequence[date]) -> list[date]:
    """The dates a delta of ``dates`` can take its reference snapshot from."""
    return sorted({d - timedelta(days=offset) for d in dates for offset in DELTA_OFFSETS})


def package_deltas(wh: Warehouse, dates: Sequence[date]) -> pl.DataFrame:
    return wh.query(
        PACKAGE_DELTAS, {"dates": list(dates), "past": delta_references(dates), "days": list(DELTA_DAYS)}
    )


def status_transitions(wh: Warehouse, pairs: Sequence[tuple[date, date]]) -> pl.DataFrame:
    """The transitions of each (date, previous snapshot date)."""
    return wh.query(
        STATUS_TRANSITIONS,
        {
            "dates": [d for d, _ in pairs],
            "previous": [p for _, p in pairs],
            "dormant": list(DORMANT),
            "revived": list(REVIVED),
        },
    )


def _neighbour(wh: Warehouse, day: date, *, later: bool) -> date | None:
    """The nearest snapshot date with scores before (or after) ``day``. Only the compressed date column is
    read: about 2 ms at 1,500,000 rows."""
    comparison, pick = (">", "min") if later else ("<", "max")
    return wh.row(
        f"SELECT {pick}(snapshot_date) FROM daily_package_metrics WHERE snapshot_date {comparison} ?", [day]
    )[0]


def _has_scores(wh: Warehouse, day: date) -> bool:
    return wh.row("SELECT count(*) > 0 FROM daily_package_metrics WHERE snapshot_date = ?", [day])[0]


def _write(wh: Warehouse, table: str, dates: Sequence[date] | None, frame: pl.DataFrame) -> None:
    """Validate ``frame`` against the table's model (every failure reported), then replace the rows of
    ``dates`` (every row when None) with it."""
    checked = contracts.validate(TABLE_MODELS[table], frame.select(wh.columns(table)))
    if not checked.failures.is_empty():
        raise ValueError(
            f"{table}: computed rows break the {TABLE_MODELS[table].__name__} model:\n{checked.failures}"
        )
    with wh.transaction() as conn:
        compaction.forget(conn, dates)
        if dates is None:
            conn.execute(f'DELETE FROM "{table}"')
        else:
            conn.execute(
                f'DELETE FROM "{table}" WHERE snapshot_date IN (SELECT unnest(CAST(? AS DATE[])))',
                [list(dates)],
            )
        wh.append(table, frame)


def refresh(wh: Warehouse, day: date) -> None:
    """Recompute ``day``'s marts and the later ones that read ``day``."""
    with wh.transaction():
        for table, sql in SAME_DAY.items():
            _write(wh, table, [day], wh.query(sql, {"dates": [day]}))
        deltas = [day, *delta_dependents(day)]
        _write(wh, "package_deltas", deltas, package_deltas(wh, deltas))
        before, after = _neighbour(wh, day, later=False), _neighbour(wh, day, later=True)
        # The next date's previous snapshot is this one, or (this date holding no scores) the one before.
        previous_of_next = day if _has_scores(wh, day) else before
        pairs = [
            (d, p) for d, p in ((day, before), (after, previous_of_next)) if d is not None and p is not None
        ]
        targets = [d for d in (day, after) if d is not None]
        _write(wh, "status_transitions", targets, status_transitions(wh, pairs))


def rebuild(wh: Warehouse) -> None:
    """Every mart of every date, from the stored history."""
    snapshots = wh.snapshot_dates("package_snapshots")
    scored = wh.snapshot_dates("daily_package_metrics")
    with wh.transaction():
        for table, sql in SAME_DAY.items():
            _write(wh, table, None, wh.query(sql, {"dates": snapshots}))
        _write(wh, "package_deltas", None, package_deltas(wh, scored))
        _write(
            wh,
            "status_transitions",
            None,
            status_transitions(wh, list(zip(scored[1:], scored, strict=False))),
        )
