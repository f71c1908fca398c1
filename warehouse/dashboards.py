"""What the dashboards and the static report read: every figure through a named query of the catalog
(`warehouse/sql/`), so a notion such as "dormant" or "mover" has one definition, shared with `dpw query`.

A view reads everything it shows in one short read-only visit and releases the file: DuckDB lets no reader in
while the daily run publishes, so a dashboard left open never holds the file between two reads. Each query
reads its window of dates (or one date), never the whole history.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from warehouse import queries
from warehouse.store import Warehouse, WarehouseError

# What a first-time reader should run to have something to look at.
HOW_TO_FILL = "Run `python3 dev.py demo` (or `dpw ingest --date D`) first."
# The spans `risers_and_fallers` knows.
MOVER_DAYS = (7, 30, 90)
GROUP_KINDS = ("category", "grid")


class Unavailable(Exception):
    """Why a dashboard has nothing to show now, in words for its reader."""


@dataclass(frozen=True)
class Span:
    """The scored dates a warehouse holds and the packages scored on the last one."""

    first: date
    last: date
    dates: int
    packages: int

    def window(self, days: int, end: date | None = None) -> tuple[date, date]:
        """The dates a window of ``days`` ending at ``end`` (default: the last date) covers, clipped to the
        span: what a dashboard's date range starts with."""
        last = min(end or self.last, self.last)
        return max(self.first, last - timedelta(days=days)), last


@dataclass(frozen=True)
class Overview:
    span: Span
    start: date
    end: date
    status_mix: pl.DataFrame
    scores: pl.DataFrame
    categories: pl.DataFrame
    runs: pl.DataFrame


@dataclass(frozen=True)
class GroupView:
    span: Span
    kind: str
    group: str
    ranking: pl.DataFrame
    health: pl.DataFrame
    movers: pl.DataFrame
    mover_days: int


@dataclass(frozen=True)
class PackageView:
    span: Span
    package: str
    history: pl.DataFrame
    weekly: pl.DataFrame
    releases: pl.DataFrame
    transitions: pl.DataFrame


@dataclass(frozen=True)
class MoversView:
    span: Span
    days: int
    movers: pl.DataFrame
    newly_dormant: pl.DataFrame
    revived: pl.DataFrame
    popular_dormant: pl.DataFrame
    min_stars: int


READER_MEMORY = "200MB"


@contextmanager
def visit(path: str | Path | None) -> Iterator[Warehouse]:
    """The warehouse open read-only for one read, or `Unavailable` saying why not."""
    if path is None:
        raise Unavailable(
            "No warehouse given. Open the dashboards with `dpw dashboard NAME`, which passes the warehouse "
            "(`--warehouse`, else `$DPW_WAREHOUSE`, else ./data/warehouse.duckdb) as `-- --warehouse PATH`."
        )
    if not Path(path).exists():
        raise Unavailable(f"No warehouse at `{path}`. {HOW_TO_FILL}")
    try:
        wh = Warehouse(path, read_only=True)
    except WarehouseError as err:
        # Most often the daily run publishing a date: worth a reload in a moment, not a traceback.
        raise Unavailable(f"Cannot read the warehouse now: {err}") from err
    try:
        # DuckDB keeps every block a read touched in its buffer pool (a year at 50,000 packages: one package's
        # history took 780 MB); a dashboard's reads are small, so a low cap costs them nothing (320 MB peak,
        # same time) and keeps a reader that stays open all day light.
        wh.conn.execute(f"SET memory_limit = '{READER_MEMORY}'")
        yield wh
    finally:
        wh.close()


def ask(wh: Warehouse, name: str, **params: object) -> pl.DataFrame:
    """The rows of the catalog's query ``name``; parameters given as values (None: the query's default),
    checked and bound as `dpw query --param` binds them."""
    named = queries.load(name)
    given = {key: _text(value) for key, value in params.items() if value is not None}
    frame = wh.query(named.sql, named.bind(given))
    # DuckDB's count_if is a HUGEINT, which arrives as a Decimal: charts and JSON want plain numbers.
    return frame.with_columns(
        pl.col(name).cast(pl.Int64 if dtype.scale == 0 else pl.Float64)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal)
    )


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def span(wh: Warehouse) -> Span:
    first, last, dates = wh.row(
        "SELECT min(snapshot_date), max(snapshot_date), count(DISTINCT snapshot_date) FROM daily_package_metrics"
    )
    if last is None:
        raise Unavailable(f"The warehouse at `{wh.path}` has no scored dates yet. {HOW_TO_FILL}")
    packages = wh.row("SELECT count(*) FROM daily_package_metrics WHERE snapshot_date = ?", [last])[0]
    return Span(first, last, dates, packages)


def read_span(path: str | Path | None) -> Span:
    with visit(path) as wh:
        return span(wh)


def overview(path: str | Path | None, *, start: date | None = None, end: date | None = None) -> Overview:
    """The ecosystem from ``start`` to ``end`` (default: the last 90 days of the span)."""
    with visit(path) as wh:
        s = span(wh)
        first, last = s.window(90, end)
        first = min(max(start or first, s.first), last)
        days = (last - first).days
        return Overview(
            span=s,
            start=first,
            end=last,
            status_mix=ask(wh, "status_mix", date=last, days=days),
            scores=ask(wh, "score_distribution", date=last),
            categories=ask(wh, "health_over_time", kind="category", date=last, days=days),
            runs=ask(wh, "recent_runs", runs=10),
        )


def groups(path: str | Path | None) -> pl.DataFrame:
    """Every category and grid of the last date, for a picker."""
    with visit(path) as wh:
        span(wh)
        return ask(wh, "groups")


def group(
    path: str | Path | None, kind: str, slug: str, *, days: int = 30, mover_days: int = 30, limit: int = 50
) -> GroupView:
    """One category or grid on the last date: its ranking with each package's last ``days`` of scores, its
    health over those days and its risers and fallers over ``mover_days``."""
    with visit(path) as wh:
        s = span(wh)
        return GroupView(
            span=s,
            kind=kind,
            group=slug,
            ranking=ask(wh, "group_ranking", kind=kind, group=slug, days=days, limit=limit),
            health=ask(wh, "health_over_time", kind=kind, group=slug, days=days),
            movers=ask(wh, "risers_and_fallers", kind=kind, group=slug, days=mover_days, limit=5),
            mover_days=mover_days,
        )


def search(path: str | Path | None, text: str, *, limit: int = 20) -> pl.DataFrame:
    """Packages of the last date matching ``text`` (the most starred when it is empty)."""
    with visit(path) as wh:
        span(wh)
        return ask(wh, "package_search", text=text, limit=limit)


def package(path: str | Path | None, key: str | int, *, days: int = 365, weeks: int = 104) -> PackageView:
    """One package (slug or id) over the last ``days`` and its stitched weekly commits over ``weeks``."""
    with visit(path) as wh:
        s = span(wh)
        return PackageView(
            span=s,
            package=str(key),
            history=ask(wh, "package_history", package=key, days=days),
            weekly=ask(wh, "weekly_commits_of", package=key, weeks=weeks),
            releases=ask(wh, "releases_of", package=key),
            transitions=ask(wh, "status_changes", kind="all", package=key, days=days),
        )


def movers(path: str | Path | None, *, days: int = 30, min_stars: int = 100, limit: int = 10) -> MoversView:
    """Risers and fallers over ``days`` (7, 30 or 90), the packages newly dormant or revived in those
    days, and popular packages that are dormant, on the last date."""
    if days not in MOVER_DAYS:
        raise ValueError(f"days must be one of {MOVER_DAYS}")
    with visit(path) as wh:
        s = span(wh)
        return MoversView(
            span=s,
            days=days,
            movers=ask(wh, "risers_and_fallers", days=days, limit=limit),
            newly_dormant=ask(wh, "status_changes", kind="newly_dormant", days=days),
            revived=ask(wh, "status_changes", kind="revived", days=days),
            popular_dormant=ask(wh, "popular_but_dormant", min_stars=min_stars, limit=limit),
            min_stars=min_stars,
        )


def history_note(s: Span, days: int) -> str | None:
    """Why a change over ``days`` cannot be shown yet, or None when the span allows it: a delta needs a
    snapshot from ``days`` to ``days`` + 7 days before the last date (see `warehouse.marts`)."""
    if s.dates == 1:
        return f"The warehouse holds one date ({s.last}): changes appear once a second date is captured."
    if s.last - s.first < timedelta(days=days):
        return (
            f"No change over {days} days yet: the history starts {s.first}, "
            f"{(s.last - s.first).days} days before {s.last}."
        )
    return None


def freshness(runs: pl.DataFrame, now: datetime) -> str:
    """How old the last run is, and how it ended, in words."""
    if runs.is_empty():
        return "No run recorded yet."
    last = runs.row(0, named=True)
    finished = last["started_at"] + timedelta(seconds=last["seconds"] or 0)
    hours = (now - finished).total_seconds() / 3600
    age = (
        f"{hours * 60:.0f} minutes"
        if hours < 1
        else f"{hours:.1f} hours"
        if hours < 48
        else f"{hours / 24:.0f} days"
    )
    return (
        f"Last run: {last['mode']} of {last['snapshot_date']}, {last['status']}, finished {age} ago "
        f"({last['records_rejected']} records rejected, {last['guards_warn']} guards warned, "
        f"{last['guards_fail']} failed)."
    )
