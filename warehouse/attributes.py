"""attribute_history: when each package's title, slug, repository, category, description, PyPI name, grid
memberships, archived flag and license held each value.

A package's observations are its snapshot dates. An attribute's intervals are the runs of equal values
over them (gaps and islands): ``valid_from`` is the first date of a run, ``valid_to`` (exclusive) the first
date of the next run, NULL for the last. NULL is a value like any other (no PyPI name). A date the package is
not listed on ends nothing: a package that leaves the catalogue and comes back with the same value keeps one
interval across its absence, and one that comes back with another value starts a new interval on the day
it comes back. Likewise a date a source could not answer (the package's PyPI project or GitHub repository
`failed`, or not fetched that day) says nothing about its license or archived flag. A grid membership is one
row per run of dates the package is listed in the grid (value: the grid id), ended by the first date the
package is listed outside it.

The table is a run-length encoding of the observations: each interval's ``valid_from`` is a change point,
and a grid interval's ``valid_to`` is a change point to "not a member". Publishing a date D changes one
observation per series (package, attribute, grid), so `refresh` rebuilds each series that D touches from
its change points around D, its observation on D and its next observation after D: islands over those few
points give the same intervals as islands over every observation (the points left out each repeat the value
before them).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from warehouse.contracts import AttributeInterval, validate

if TYPE_CHECKING:
    from warehouse.store import Warehouse

TABLES = ("attribute_history",)
INPUTS: dict[str, tuple[str, ...] | None] = dict.fromkeys(  # see stitching
    ("package_snapshots", "grid_package_snapshots", "pypi_projects", "repository_snapshots")
)
MIGRATIONS = (4,)  # as in warehouse/stitching.py
TABLE = "attribute_history"

# Every known observation of the packages in {packages} on the dates {dates} keeps (a condition on
# `snapshot_date`, put on every table read so each reads only those dates): one row per (package, date, attribute, series), series '' but for grids,
# where it is the grid id and the value is the grid id while a member, NULL while listed outside it, for each
# grid of {grid_series} (package_id, grid_id) the package has.
_OBSERVATIONS = """
WITH listed AS (
    SELECT * FROM package_snapshots
    WHERE ({dates}) AND package_id IN (SELECT package_id FROM ({packages}))
), scalar AS (
    SELECT s.package_id, s.snapshot_date, unnest([
        {{'attribute': 'title', 'value': s.title, 'known': true}},
        {{'attribute': 'slug', 'value': s.slug, 'known': true}},
        {{'attribute': 'repo_url', 'value': s.repo_url, 'known': true}},
        {{'attribute': 'repo_host', 'value': s.repo_host, 'known': true}},
        {{'attribute': 'category_id', 'value': CAST(s.category_id AS VARCHAR), 'known': true}},
        {{'attribute': 'description', 'value': s.repo_description, 'known': true}},
        {{'attribute': 'pypi_name', 'value': s.pypi_name, 'known': true}},
        -- NULL without a GitHub repository or for one GitHub does not show (missing, blocked); unknown
        -- when the repository could not be fetched.
        {{'attribute': 'archived', 'value': CAST(r.archived AS VARCHAR),
          'known': s.repo_full_name IS NULL OR r.status IN ('ok', 'missing', 'blocked')}},
        {{'attribute': 'license', 'value': p.license,
          'known': s.pypi_name IS NULL OR p.status IN ('ok', 'missing')}}
    ]) AS o
    FROM listed s
    LEFT JOIN (SELECT * FROM repository_snapshots WHERE {dates}) r
        ON r.snapshot_date = s.snapshot_date AND r.full_name = s.repo_full_name
    LEFT JOIN (SELECT * FROM pypi_projects WHERE {dates}) p
        ON p.snapshot_date = s.snapshot_date AND p.pypi_name = s.pypi_name
)
SELECT package_id, snapshot_date AS d, o.attribute, '' AS series, o.value FROM scalar WHERE o.known
UNION ALL
SELECT s.package_id, s.snapshot_date, 'grid', CAST(g.grid_id AS VARCHAR),
    CASE WHEN m.grid_id IS NOT NULL THEN CAST(g.grid_id AS VARCHAR) END
FROM listed s
JOIN ({grid_series}) g ON g.package_id = s.package_id
LEFT JOIN (SELECT * FROM grid_package_snapshots WHERE {dates}) m
    ON m.snapshot_date = s.snapshot_date AND m.package_id = s.package_id AND m.grid_id = g.grid_id
"""

# Gaps and islands over points (package_id, attribute, series, d, value): a run starts at a series' first
# point and wherever the value differs from the point before; it ends where the next run starts. Runs of
# "not a member" of a grid are no rows.
_ISLANDS = """
WITH marked AS (
    SELECT *, (row_number() OVER w) = 1 OR value IS DISTINCT FROM lag(value) OVER w AS starts
    FROM ({points}) WINDOW w AS (PARTITION BY package_id, attribute, series ORDER BY d)
), runs AS (
    SELECT package_id, attribute, series, value, d AS valid_from,
        lead(d) OVER (PARTITION BY package_id, attribute, series ORDER BY d) AS valid_to
    FROM marked WHERE starts
)
SELECT * FROM runs WHERE attribute <> 'grid' OR value IS NOT NULL
"""

_COLUMNS = "package_id, attribute, value, valid_from, valid_to"


def observations(packages: str, dates: str, grid_series: str) -> str:
    return _OBSERVATIONS.format(packages=packages, dates=dates, grid_series=grid_series)


def islands(points: str) -> str:
    return _ISLANDS.format(points=points)


def rebuild(wh: Warehouse) -> None:
    """Every interval, from every snapshot."""
    everything = observations(
        "SELECT DISTINCT package_id FROM package_snapshots",
        "true",
        "SELECT DISTINCT package_id, grid_id FROM grid_package_snapshots",
    )
    rows = wh.query(f"SELECT {_COLUMNS} FROM ({islands(everything)}) ORDER BY ALL")
    checked = _checked(rows)
    with wh.transaction() as conn:
        conn.execute(f"DELETE FROM {TABLE}")
        wh.append(TABLE, checked)


def refresh(wh: Warehouse, day: date) -> None:
    """The intervals publishing ``day`` changes: of each series whose observation on ``day`` differs from
    the value before it, or that had a change point on ``day``."""
    params = {"d": day}
    with wh.transaction() as conn:
        for statement in _REFRESH_SERIES:
            conn.execute(statement, params)
        nxt = conn.execute(
            "SELECT min(snapshot_date) FROM package_snapshots WHERE snapshot_date > $d", params
        ).fetchall()[0][0]
        _next_observations(wh, nxt)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _attr_new AS {_REFRESH_NEW}", params)
        added = _checked(wh.query(f"SELECT * FROM _attr_new EXCEPT {_REFRESH_OLD}"))
        conn.execute(
            f"DELETE FROM {TABLE} h USING ({_REFRESH_OLD} EXCEPT SELECT * FROM _attr_new) g "
            "WHERE h.package_id = g.package_id AND h.attribute = g.attribute "
            "AND h.valid_from = g.valid_from AND h.value IS NOT DISTINCT FROM g.value",
        )
        wh.append(TABLE, added)
        for temp in ("_attr_old", "_attr_now", "_attr_series", "_attr_next", "_attr_new"):
            conn.execute(f"DROP TABLE {temp}")


# The day's observations, of its grids and of every grid the package was in before.
_ON_THE_DAY = observations(
    "SELECT package_id FROM package_snapshots WHERE snapshot_date = $d",
    "snapshot_date = $d",
    "SELECT DISTINCT package_id, CAST(series AS BIGINT) AS grid_id FROM _attr_old WHERE attribute = 'grid' "
    "UNION SELECT package_id, grid_id FROM grid_package_snapshots WHERE snapshot_date = $d",
)

# The series `day` can change, each with its window of change points: ws, the last before the day (the run
# the previous observation belongs to); c1 and c2, the first two after it (c1's run may merge or split; c2's
# run starts the same whatever happens on the day).
_REFRESH_SERIES = (
    f"""
CREATE OR REPLACE TEMP TABLE _attr_old AS
WITH touched AS (
    SELECT package_id FROM package_snapshots WHERE snapshot_date = $d
    UNION SELECT package_id FROM {TABLE} WHERE valid_from = $d OR valid_to = $d
), rows AS (
    SELECT h.*, CASE WHEN attribute = 'grid' THEN value ELSE '' END AS series
    FROM {TABLE} h WHERE package_id IN (SELECT package_id FROM touched)
)
SELECT package_id, attribute, series, valid_from AS d, value FROM rows
UNION ALL
SELECT package_id, attribute, series, valid_to, NULL FROM rows WHERE attribute = 'grid' AND valid_to IS NOT NULL
""",
    f"""
CREATE OR REPLACE TEMP TABLE _attr_now AS
{_ON_THE_DAY}
""",
    """
CREATE OR REPLACE TEMP TABLE _attr_series AS
WITH keys AS (
    SELECT package_id, attribute, series FROM _attr_old UNION SELECT package_id, attribute, series FROM _attr_now
), bounds AS (
    SELECT k.package_id, k.attribute, k.series,
        max(o.d) FILTER (o.d < $d) AS ws,
        (max({'d': o.d, 'v': o.value}) FILTER (o.d < $d)).v AS before,
        count(o.d) FILTER (o.d = $d) > 0 AS point_on_day,
        list(o.d ORDER BY o.d) FILTER (o.d > $d) AS after
    FROM keys k LEFT JOIN _attr_old o USING (package_id, attribute, series)
    GROUP BY ALL
)
SELECT b.package_id, b.attribute, b.series, b.ws, b.after[1] AS c1, b.after[2] AS c2
FROM bounds b LEFT JOIN _attr_now n USING (package_id, attribute, series)
WHERE b.point_on_day
    -- a new value on the day; with no point before, a first value (for a grid: a first membership)
    OR (n.d IS NOT NULL AND CASE WHEN b.ws IS NULL THEN b.attribute <> 'grid' OR n.value IS NOT NULL
                                 ELSE n.value IS DISTINCT FROM b.before END)
""",
)

_REFRESH_POINTS = """
SELECT o.package_id, o.attribute, o.series, o.d, o.value FROM _attr_old o JOIN _attr_series s
    USING (package_id, attribute, series)
WHERE o.d <> $d AND (s.ws IS NULL OR o.d >= s.ws) AND (s.c2 IS NULL OR o.d <= s.c2)
    AND NOT EXISTS (SELECT 1 FROM _attr_next x WHERE x.package_id = o.package_id
                    AND x.attribute = o.attribute AND x.series = o.series AND x.d = o.d)
UNION ALL
SELECT package_id, attribute, series, d, value FROM _attr_now SEMI JOIN _attr_series
    USING (package_id, attribute, series)
UNION ALL
SELECT package_id, attribute, series, d, value FROM _attr_next
"""

# What the window holds now, and what it held.
_REFRESH_NEW = f"""
SELECT {_COLUMNS} FROM ({islands(_REFRESH_POINTS)}) r JOIN _attr_series s USING (package_id, attribute, series)
WHERE (s.ws IS NULL OR r.valid_from >= s.ws) AND (s.c1 IS NULL OR r.valid_from <= s.c1)
"""
_REFRESH_OLD = f"""
SELECT h.package_id, h.attribute, h.value, h.valid_from, h.valid_to FROM {TABLE} h JOIN _attr_series s ON h.package_id = s.package_id
    AND h.attribute = s.attribute AND s.series = CASE WHEN h.attribute = 'grid' THEN h.value ELSE '' END
WHERE (s.ws IS NULL OR h.valid_from >= s.ws) AND (s.c1 IS NULL OR h.valid_from <= s.c1)
"""


def _next_observations(wh: Warehouse, nxt: date | None) -> None:
    """_attr_next: each changed series' first observation after the day: on the next snapshot date ``nxt``
    for nearly every package, further on only for those not observed then (absent, or a source failed)."""
    series = "SELECT package_id, CAST(series AS BIGINT) AS grid_id FROM _attr_series WHERE attribute = 'grid'"
    first = observations("SELECT DISTINCT package_id FROM _attr_series", "snapshot_date = $n", series)
    wh.conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _attr_next AS SELECT * FROM ({first}) "
        "SEMI JOIN _attr_series USING (package_id, attribute, series)",
        {"n": nxt},
    )
    unseen = "SELECT * FROM _attr_series ANTI JOIN _attr_next USING (package_id, attribute, series)"
    later = observations(f"SELECT DISTINCT package_id FROM ({unseen})", "snapshot_date > $n", series)
    wh.conn.execute(
        f"""INSERT INTO _attr_next
        SELECT * FROM ({later}) SEMI JOIN ({unseen}) USING (package_id, attribute, series)
        QUALIFY d = min(d) OVER (PARTITION BY package_id, attribute, series)""",
        {"n": nxt},
    )


def _checked(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows, once their model accepts every one: a computed interval that fails it is a bug, not data."""
    result = validate(AttributeInterval, rows)
    if result.failures.height:
        from warehouse.store import WarehouseError

        raise WarehouseError(f"{TABLE}: computed intervals fail their model:\n{result.failures}")
    return rows
