"""Which repositories' weekly commits (GitHub `stats/participation`) a capture asks for: only those whose
answer can have changed.

djangopackages copies participation into `commits_over_52` about daily, so a repository needs asking only
when GitHub saw a push after djangopackages last fetched it, or when djangopackages has no array. Of those, a
repository that answered "pending" (GitHub never computed its statistics; some never do) is not asked again
until it is pushed to or a week has passed: asking daily cost a request a day each, for nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from warehouse.parsing import parse_timestamp
from warehouse.store import Warehouse, WarehouseError

PENDING_RETRY = timedelta(days=7)

_PREVIOUS_SCHEMA: dict[str, Any] = {
    "full_name": pl.String,
    "status": pl.String,
    "asked_on": pl.Date,
    "pushed_then": pl.Datetime("us", "UTC"),
}


def previous_answers(warehouse: Path, day: date) -> pl.DataFrame:
    """Each repository's latest participation answer on a published date of the retry window before ``day``:
    its status, that date and the push date then. Empty when none can be read (a first day, a busy file):
    everything due is asked, a dearer capture, never a wrong one."""
    empty = pl.DataFrame(schema=_PREVIOUS_SCHEMA)
    if not warehouse.exists():
        return empty
    try:
        with Warehouse(warehouse, read_only=True) as wh:
            found = wh.query(
                "SELECT full_name, arg_max(participation_status, snapshot_date) AS status, "
                "max(snapshot_date) AS asked_on, arg_max(pushed_at, snapshot_date) AS pushed_then "
                "FROM repository_snapshots WHERE participation_status IS NOT NULL "
                "AND snapshot_date < $d AND snapshot_date >= $since GROUP BY full_name",
                {"d": day, "since": day - PENDING_RETRY},
            )
    except WarehouseError:
        return empty
    return found.cast(_PREVIOUS_SCHEMA)  # type: ignore[arg-type]


def wanted(repos: pl.DataFrame, pushed: dict[str, Any], previous: pl.DataFrame) -> list[str]:
    """Repositories to ask today, from ``repos`` (full_name, djangopackages' last_fetched_at, no_weeks), each
    repository's push date as GitHub reported it today (``pushed``, ISO text or None) and ``previous``."""
    pushes = pl.DataFrame(
        {"full_name": list(pushed), "pushed_at": list(pushed.values())},
        schema={"full_name": pl.String, "pushed_at": pl.String},
        strict=False,  # a hostile document's pushedAt may be anything; the parser makes it null
    ).with_columns(parse_timestamp(pl.col("pushed_at")))
    waiting = ((pl.col("status") == "pending") & (pl.col("pushed_at") <= pl.col("pushed_then"))).fill_null(
        False
    )
    return (
        repos.join(pushes, on="full_name")
        .filter(pl.col("pushed_at").is_not_null())
        .filter(pl.col("no_weeks") | (pl.col("pushed_at") > pl.col("last_fetched_at")))
        .join(previous, on="full_name", how="left")
        .filter(~waiting)
        .get_column("full_name")
        .to_list()
    )
