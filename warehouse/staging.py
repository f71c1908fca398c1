"""Staging: a run builds its date in a file of its own, then publishes it into the warehouse at once.

A date's raw data can be fetched only on that date, so nothing that happens to the warehouse file may cost
it: a run lands what it fetched, and everything computed from it, in ``<warehouse>.staging/<date>.<run>.duckdb``
(nobody else opens that file, so no reader can block a step), and only the last step opens the warehouse
for writing, for one short transaction that replaces the date in every published table. A run that cannot
publish (a guard refused the day, a reader held the file too long, a kill) leaves the warehouse exactly as
it was and its staging file kept, so the date can be published later from what was fetched, without a
request.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from warehouse import compaction, guards, history, raw
from warehouse.store import Warehouse

log = logging.getLogger(__name__)

# Every table a run writes for its date, in the order they are replaced. Raw first: a published date's
# tables are always a function of the raw published with them. raw_records brings the raw_documents its rows
# reference (warehouse.raw.publish_raw): only those the warehouse does not hold yet are copied.
PUBLISHED_TABLES = (
    "raw_records",
    "raw_requests",
    "package_snapshots",
    "category_snapshots",
    "grid_snapshots",
    "grid_package_snapshots",
    "repository_snapshots",
    "forge_repository_snapshots",
    "pypi_projects",
    "release_snapshots",
    "rejected_records",
    "daily_package_metrics",
    "daily_grid_percentiles",
)
RAW_TABLES = ("raw_records", "raw_requests")
# What a recompute of a published date replaces: its raw stays as it was captured.
DERIVED_TABLES = tuple(t for t in PUBLISHED_TABLES if t not in RAW_TABLES)


def staging_dir(warehouse: Path) -> Path:
    """Beside the warehouse, so everything a warehouse keeps lives in one directory."""
    return warehouse.with_name(warehouse.name + ".staging")


def staging_file(warehouse: Path, day: date, run_id: str) -> Path:
    return staging_dir(warehouse) / f"{day.isoformat()}.{run_id}.duckdb"


def kept(warehouse: Path, day: date) -> list[Path]:
    """Staging files of ``day`` that were never published, oldest first."""
    folder = staging_dir(warehouse)
    found = []
    for path in folder.glob(f"{day.isoformat()}.*.duckdb") if folder.is_dir() else ():
        try:
            found.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # published and removed by another run meanwhile
            continue
    return [path for _, path in sorted(found)]


def has_raw(path: Path, day: date) -> bool:
    if not path.exists():
        return False
    with Warehouse.current(path) as wh:
        return wh.has_raw(day, "djangopackages/")


def scored(path: Path, day: date) -> bool:
    """Whether a staging file got as far as scores: every raw step before them landed its part."""
    with Warehouse.current(path) as wh:
        return wh.row("SELECT count(*) FROM daily_package_metrics WHERE snapshot_date = ?", [day])[0] > 0


# The attached warehouse a recompute reads its raw through (``read_raw_of``).
RAW_SOURCE = "_raw_source"


def read_raw_of(staged: Warehouse, warehouse: Path) -> None:
    """Let ``staged`` read the raw tables of ``warehouse`` instead of its own, for as long as it is open: the
    warehouse is attached read-only and temporary views of its raw tables shadow the staging file's (empty)
    ones, so every reader of raw (parsing, the guards, the run's counts) reads the stored date where it
    lies, and nothing of it is copied. Only for a recompute of a date the warehouse holds, which publishes
    no raw; the caller holds the warehouse's reader lock while ``staged`` is open."""
    staged.conn.execute(f"ATTACH ? AS {RAW_SOURCE} (READ_ONLY)", [str(warehouse)])
    for table in RAW_TABLES + ("raw_documents", guards.FACTS_TABLE):
        staged.conn.execute(f'CREATE TEMP VIEW "{table}" AS SELECT * FROM {RAW_SOURCE}."{table}"')


def seed(staged: Warehouse, source: Path, day: date) -> dict[str, int]:
    """Copy ``day``'s raw rows from ``source`` (the warehouse, or a kept staging file) into ``staged``,
    so a recompute works on a file of its own."""
    with Warehouse.current(source) as origin:
        records = raw.raw_rows(origin, day)
        requests = origin.partition("raw_requests", day)
    with staged.transaction():
        written = {"raw_records": raw.replace_raw(staged, day, records)}
        written.update(staged.replace_partitions(day, {"raw_requests": requests}))
    return written


def publish(
    warehouse: Path,
    staged: Path,
    day: date,
    run_id: str,
    logs: Mapping[str, pl.DataFrame],
    *,
    tables: tuple[str, ...] = PUBLISHED_TABLES,
    facts: Mapping[date, guards.RawFacts] | None = None,
) -> dict[str, int]:
    """Replace ``day`` in ``tables`` of ``warehouse`` with the staged rows, in one transaction.

    ``logs`` (the run's ledger row and guard results) are written in the same transaction,
    so a date is never visible without the run that published it, and so are ``facts``, the guards' facts
    of dates' raw that the run read from the raw: those of ``day`` when its raw is published here are of
    that raw; those of another date only if the warehouse still holds the raw they were read from
    (``guards.keep_raw_facts``). Waits (bounded) for readers to leave.
    """
    written: dict[str, int] = {}
    with Warehouse(warehouse) as wh:
        wh.conn.execute("ATTACH ? AS staged (READ_ONLY)", [str(staged)])
        try:
            with wh.transaction() as conn:
                changed: dict[str, set[str]] = {}
                for table in tables:
                    if table == "raw_records":
                        written[table] = raw.publish_raw(conn, "staged", day)
                        changed[table] = set(wh.columns(table))
                        continue
                    # Rows that come out as they were stay as they are: a recompute with nothing new to
                    # say rewrites nothing, and refreshes no history.
                    differing = _changed_columns(conn, table, wh.columns(table), day)
                    if differing:
                        columns = ", ".join(f'"{c}"' for c in wh.columns(table))
                        conn.execute(f'DELETE FROM main."{table}" WHERE snapshot_date = ?', [day])
                        conn.execute(
                            f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM staged."{table}" '
                            "WHERE snapshot_date = ?",
                            [day],
                        )
                        changed[table] = differing
                    written[table] = conn.execute(
                        f'SELECT count(*) FROM main."{table}" WHERE snapshot_date = ?', [day]
                    ).fetchall()[0][0]
                if changed:  # rows appended after the month's others: it is out of order again
                    compaction.forget(conn, [day])
                history.refresh(wh, day, changed)
                for table, frame in logs.items():
                    wh.replace_run(table, run_id, frame)
                for fact_day, read in (facts or {}).items():
                    if fact_day == day and "raw_records" in tables:
                        # Read from the staged raw just published, whose documents have the warehouse's ids now.
                        read = dataclasses.replace(read, fingerprint=guards.fingerprint(conn, day))
                    guards.keep_raw_facts(wh, fact_day, read)
        finally:
            wh.conn.execute("DETACH staged")
    return written


def _changed_columns(conn: duckdb.DuckDBPyConnection, table: str, columns: list[str], day: date) -> set[str]:
    """The columns in which the staged rows of ``day`` in ``table`` differ from the stored ones, exactly (no
    hash): paired on the table's key, every column when a row has no pair or the counts differ; a table
    without a key is compared as multisets, all or nothing."""
    selected = ", ".join(f'"{c}"' for c in columns)
    rows = f'(SELECT {selected} FROM {{}}."{table}" WHERE snapshot_date = $d)'
    stored, staged = rows.format("main"), rows.format("staged")
    key = compaction.clustered_tables().get(table)
    if not key:
        sql = f"SELECT EXISTS ({stored} EXCEPT ALL {staged}) OR EXISTS ({staged} EXCEPT ALL {stored})"
        return set(columns) if conn.execute(sql, {"d": day}).fetchall()[0][0] else set()
    on = " AND ".join(f'm."{k}" = s."{k}"' for k in key)
    differing = ", ".join(f'count(*) FILTER (m."{c}" IS DISTINCT FROM s."{c}")' for c in columns)
    counts = conn.execute(
        f'SELECT count(*) FILTER (m."{key[0]}" IS NULL OR s."{key[0]}" IS NULL), {differing}, '
        f"(SELECT count(*) FROM {stored}) <> (SELECT count(*) FROM {staged}) "
        f"FROM {stored} m FULL JOIN {staged} s ON {on}",
        {"d": day},
    ).fetchall()[0]
    if counts[0] or counts[-1]:
        return set(columns)
    return {c for c, n in zip(columns, counts[1:-1], strict=True) if n}


def discard(*paths: Path) -> None:
    """Remove staging files whose content the warehouse now holds (and their lock files). A file that
    cannot be removed is left for later: the date is published whatever happens to it."""
    for path in paths:
        for leftover in (path, *path.parent.glob(path.name + ".*")):
            try:
                leftover.unlink(missing_ok=True)
            except OSError as err:
                log.warning(f"could not remove {leftover} after publishing: {err}")
