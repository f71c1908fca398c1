"""Which repositories' weekly commits (GitHub `stats/participation`) a capture asks for: only those whose
answer can have changed.

djangopackages copies participation into `commits_over_52` about daily, so a repository needs asking only
when GitHub saw a push after djangopackages last fetched it, or when djangopackages has no array. Of those, a
repository that answered "pending" (GitHub never computed its statistics; some never do) is not asked again
until it is pushed to or a week has passed: asking daily cost a request a day each, for nothing.

An array fetched earlier is kept with GitHub's ETag: a repository asked again sends it, so an unchanged
answer is a 304 that costs no quota, and one not asked again is scored from that array (ending on the date
it was fetched) rather than from djangopackages' copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from assets.sources.github import Participation
from warehouse.parsing import parse_timestamp
from warehouse.store import Warehouse, WarehouseError

PENDING_RETRY = timedelta(days=7)
# An array 52 weeks old shares no week with today's: older ones are of no use to a score.
KEPT_FOR = timedelta(weeks=52)

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
        with Warehouse.current(warehouse) as wh:
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


@dataclass(frozen=True)
class StoredWeeks:
    """A repository's latest weekly array in the warehouse, the ETag GitHub gave it and the date it ends on."""

    all: tuple[int, ...]
    etag: str | None
    fetched_on: date


def stored_weeks(warehouse: Path, day: date) -> dict[str, StoredWeeks]:
    """Each repository's latest usable weekly array on a published date before ``day`` (so a date captured
    twice gets the same answers twice). Empty when none can be read: every due repository is asked in full
    and the others fall back to djangopackages' array, a dearer capture, never a wrong one."""
    if not warehouse.exists():
        return {}
    try:
        with Warehouse.current(warehouse) as wh:
            found = wh.query(
                "SELECT full_name, arg_max(participation, snapshot_date) AS weeks, "
                "arg_max(participation_etag, snapshot_date) AS etag, "
                "arg_max(coalesce(participation_fetched_on, snapshot_date), snapshot_date) AS fetched_on "
                "FROM repository_snapshots WHERE participation_status IN ('ok', 'unchanged') "
                "AND participation IS NOT NULL AND snapshot_date < $d AND snapshot_date >= $since "
                "GROUP BY full_name",
                {"d": day, "since": day - KEPT_FOR},
            )
    except WarehouseError:
        return {}
    return {
        name: StoredWeeks(tuple(weeks), etag, fetched_on)
        for name, weeks, etag, fetched_on in found.iter_rows()
    }


def participation_rows(
    day: date, answers: Mapping[str, Participation], stored: Mapping[str, StoredWeeks], linked: list[str]
) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """Raw ``github/participation`` rows (key, status, payload): today's answers, a 304 as the stored array
    it confirmed (status ``unchanged``), and the stored array of each linked repository not asked today
    (``unchanged``, ending on the date it was fetched). ``_etag`` and ``_weeks_end`` are provenance."""
    for name, p in answers.items():
        if p.status == "ok" and p.all is not None:
            yield name, "ok", {"all": list(p.all), "owner": list(p.owner or ()), "_etag": p.etag}
        elif p.status == "unchanged" and name in stored:
            yield name, "unchanged", _stored_payload(stored[name], day)
        elif p.status == "failed":
            yield name, "failed", {"error": p.error or "no usable answer"}
        else:
            yield name, p.status, None
    for name in linked:
        if name not in answers and name in stored:
            yield name, "unchanged", _stored_payload(stored[name], stored[name].fetched_on)


def _stored_payload(weeks: StoredWeeks, ends_on: date) -> dict[str, Any]:
    return {"all": list(weeks.all), "_etag": weeks.etag, "_weeks_end": f"{ends_on.isoformat()}T00:00:00Z"}
