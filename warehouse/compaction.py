"""Compaction: every closed month of the dated tables rewritten in key order, so that years of history stay
small.

A publication appends its date's rows after the previous date's, so a dated table is stored date after date,
and a value a package keeps for months (its title, its description, its 52 weeks shifted by one) is stored
again every day among other packages' values. Rewritten in (key, date) order, a month's rows of one package
lie together, and DuckDB's per-segment compression (dictionary, run-length, bit-packing) stores what
repeats day after day nearly once: a month of the large tables takes about a third of the space
(``bench/history``). DuckDB reuses the blocks the old rows freed for the next days' rows.

A month is due once it is closed (a later month has a date) and has not been compacted since its rows last
changed: a publication that replaces rows of a month (a recompute, a backfill, the marts of later dates that
read it) removes the month's ``compacted_months`` row in its own transaction (``forget``). The daily capture
compacts what is due after it publishes; `dpw backfill`, `dpw rescore` and `dpw compact` once at their end.
A month is rewritten in one transaction whose row counts must match, so a kill or a failure leaves it as it
was. Only the rows' physical order changes: every reader that needs an order asks for one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from warehouse import contracts
from warehouse.contracts import SNAPSHOT_DATE, TABLE_MODELS

if TYPE_CHECKING:
    from warehouse.store import Warehouse

TABLE = "compacted_months"


@dataclass(frozen=True)
class Compacted:
    month: date  # its first day
    rows: int
    seconds: float


def clustered_tables() -> dict[str, tuple[str, ...]]:
    """Each dated table a publication writes, with the columns its rows are ordered by before the date: the
    key its model makes unique on a date. The rejects have none and stay as written."""
    # Both write through `forget`, so they are imported when asked, not with this module.
    from warehouse import marts, staging

    clustered = {}
    for table in (*staging.DERIVED_TABLES, *marts.TABLES):
        schema = TABLE_MODELS[table].to_schema()
        key = tuple(c for c in schema.unique or () if c != SNAPSHOT_DATE) or tuple(
            name for name, column in schema.columns.items() if column.unique
        )
        if key:
            clustered[table] = key
    return clustered


def month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def forget(conn: duckdb.DuckDBPyConnection, days: Iterable[date] | None) -> None:
    """The months of ``days`` (every month: None) are no longer compacted: their rows are being replaced,
    in the caller's transaction."""
    if days is None:
        conn.execute(f"DELETE FROM {TABLE}")
        return
    months = sorted({month_of(day) for day in days})
    conn.execute(f"DELETE FROM {TABLE} WHERE month IN (SELECT unnest(CAST(? AS DATE[])))", [months])


def due(wh: Warehouse) -> list[date]:
    """The closed months, oldest first, that are not compacted since their rows last changed."""
    rows = wh.query(
        f"""
        SELECT DISTINCT CAST(date_trunc('month', snapshot_date) AS DATE) AS month FROM package_snapshots
        WHERE snapshot_date < date_trunc('month', (SELECT max(snapshot_date) FROM package_snapshots))
        EXCEPT SELECT month FROM {TABLE}
        ORDER BY month
        """
    )
    return rows.get_column("month").to_list() if rows.height else []


def compact(wh: Warehouse, month: date) -> Compacted:
    """Rewrite ``month``'s rows of every clustered table in (key, date) order, in one transaction."""
    if month != month_of(month):
        raise ValueError(f"{month} is not the first day of a month")
    started = time.perf_counter()
    bounds = {"first": month, "next": _next_month(month)}
    within = "snapshot_date >= $first AND snapshot_date < $next"
    total = 0
    with wh.transaction() as conn:
        for table, key in clustered_tables().items():
            order = ", ".join(f'"{column}"' for column in (*key, SNAPSHOT_DATE))
            conn.execute(
                f'CREATE TEMP TABLE _compacting AS SELECT * FROM main."{table}" WHERE {within} ORDER BY {order}',
                bounds,
            )
            deleted = conn.execute(f'DELETE FROM main."{table}" WHERE {within}', bounds).fetchall()[0][0]
            inserted = conn.execute(f'INSERT INTO main."{table}" SELECT * FROM _compacting').fetchall()[0][0]
            conn.execute("DROP TABLE _compacting")
            if deleted != inserted:  # raised inside the transaction, which is rolled back: nothing is lost
                from warehouse.store import WarehouseError

                raise WarehouseError(
                    f"compacting {table} for {month:%Y-%m}: {deleted} rows removed but {inserted} written back"
                )
            total += inserted
        forget(conn, [month])
        row = pl.DataFrame(
            {"month": [month], "compacted_at": [datetime.now(UTC)], "row_count": [total]},
            schema={"month": pl.Date, "compacted_at": pl.Datetime("us", "UTC"), "row_count": pl.Int64},
        )
        contracts.CompactedMonth.validate(row)
        wh.append(TABLE, row)
    return Compacted(month, total, time.perf_counter() - started)


def compact_due(wh: Warehouse) -> list[Compacted]:
    """Compact every due month, each in its own transaction."""
    return [compact(wh, month) for month in due(wh)]
