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
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from warehouse import compaction, guards, history, raw
from warehouse.store import Warehouse, WarehouseError, connection_config

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


@contextmanager
def read_raw_of(staged: Warehouse, warehouse: Path) -> Iterator[None]:
    """Let ``staged`` read the raw tables of ``warehouse`` instead of its own while inside: the warehouse is
    attached read-only and temporary views of its raw tables shadow the staging file's (empty) ones, so
    every reader of raw (parsing, the guards, the run's counts) reads the stored date where it lies, and
    nothing of it is copied. Only for a recompute of a date the warehouse holds, which publishes no raw;
    the caller holds the warehouse's reader lock meanwhile. The warehouse is detached on the way out: an
    attachment belongs to the file's database, which outlives this connection while the file is held."""
    staged.conn.execute(f"ATTACH ? AS {RAW_SOURCE} (READ_ONLY)", [str(warehouse)])
    try:
        for table in RAW_TABLES + ("raw_documents", guards.FACTS_TABLE):
            staged.conn.execute(f'CREATE TEMP VIEW "{table}" AS SELECT * FROM {RAW_SOURCE}."{table}"')
        yield
    finally:
        for table in RAW_TABLES + ("raw_documents", guards.FACTS_TABLE):
            staged.conn.execute(f'DROP VIEW IF EXISTS temp.main."{table}"')
        staged.conn.execute(f"DETACH {RAW_SOURCE}")


# The staging files this process holds open (``hold``), each by one connection of its own.
_HELD: dict[Path, duckdb.DuckDBPyConnection] = {}


def hold(path: Path) -> None:
    """Keep the staging file ``path`` open in this process until ``release``, as a run does from its first
    step to its publication. Within a process DuckDB shares one database per file among its connections,
    so each step's open joins the held one instead of reading the file again, and its closing writes
    nothing; and the held database's commits append to the file's write-ahead log instead of each rewriting
    the file (a checkpoint: 0.3 s for a day's 50,000 packages). The log is as durable as the file: an open
    after a crash replays it. Nothing else may open the file meanwhile (a read-only open in this process is
    refused by DuckDB), which a run's own file never is."""
    if path in _HELD:
        return
    conn = duckdb.connect(str(path), config=connection_config(read_only=False))
    try:
        # Else the commit that takes the log past 16 MB writes the file out (a day's staged tables do).
        conn.execute("SET checkpoint_threshold = '1TB'")
    except BaseException:
        conn.close()
        raise
    _HELD[path] = conn


def release(path: Path, *, checkpoint: bool = True) -> None:
    """Stop holding ``path``: its log is written into the file (a checkpoint) as the last connection closes,
    unless ``checkpoint`` is false, for a file about to be removed. A file not held is left as it is."""
    conn = _HELD.pop(path, None)
    if conn is None:
        return
    try:
        if not checkpoint:
            conn.execute("PRAGMA disable_checkpoint_on_shutdown")
    finally:
        conn.close()


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

    Rows that come out as they were stay as they are: a recompute with nothing new to say rewrites nothing,
    and refreshes no history. Each side's rows of a table are summed up first (``digests``), each in its own
    file; only the tables whose sums differ are compared row by row (``_changed_columns``), which needs the
    staged file attached, so released first (``release``) when this process holds it.
    """
    if not staged.exists():
        raise WarehouseError(f"no staging file at {staged}: nothing to publish for {day}")
    # A date's raw rows name their documents by ids of their own file: publish_raw compares those itself.
    compared = [table for table in tables if table != "raw_records"]
    written: dict[str, int] = {}
    with ExitStack() as stack:
        # The staged sums beside the warehouse's open and its sums: two files, two databases.
        summed = stack.enter_context(ThreadPoolExecutor(1)).submit(_digests_of, staged, compared, day)
        wh = stack.enter_context(Warehouse(warehouse))
        theirs = digests(wh, compared, day)
        ours = summed.result()
        differing = [table for table in tables if table == "raw_records" or ours[table] != theirs[table]]
        if differing:
            release(staged)
            wh.conn.execute("ATTACH ? AS staged (READ_ONLY)", [str(staged)])
        try:
            with wh.transaction() as conn:
                changed: dict[str, set[str]] = {}
                columns = wh.columns_of(differing)
                for table in tables:
                    if table == "raw_records":
                        written[table] = raw.publish_raw(conn, "staged", day)
                        changed[table] = set(columns[table])
                        continue
                    written[table] = ours[table][0]
                    if table not in differing:
                        continue
                    differ = _changed_columns(conn, table, columns[table], day)
                    if differ:
                        selected = ", ".join(_quoted(columns[table]))
                        conn.execute(f'DELETE FROM main."{table}" WHERE snapshot_date = ?', [day])
                        conn.execute(
                            f'INSERT INTO main."{table}" ({selected}) SELECT {selected} FROM staged."{table}" '
                            "WHERE snapshot_date = ?",
                            [day],
                        )
                        changed[table] = differ
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
            if differing:
                wh.conn.execute("DETACH staged")
    return written


def _digests_of(path: Path, tables: list[str], day: date) -> dict[str, tuple[int, int]]:
    with Warehouse(path) as wh:
        return digests(wh, tables, day)


def digests(wh: Warehouse, tables: list[str], day: date) -> dict[str, tuple[int, int]]:
    """Each table's rows of ``day``: how many, and the sum of their hashes (DuckDB's ``hash`` of the whole
    row), in one query. Equal rows give equal sums in any file; rows that differ give the same sum by
    chance about once in 2**64, the one way a changed table could be taken as unchanged."""
    if not tables:
        return {}
    columns = wh.columns_of(tables)
    sql = " UNION ALL ".join(
        f"SELECT {i}, count(*), coalesce(sum(hash({', '.join(_quoted(columns[table]))}))::HUGEINT, 0) "
        f'FROM "{table}" WHERE snapshot_date = $d'
        for i, table in enumerate(tables)
    )
    sums = {i: (n, h) for i, n, h in wh.conn.execute(sql, {"d": day}).fetchall()}
    return {table: sums[i] for i, table in enumerate(tables)}


def _quoted(columns: list[str]) -> list[str]:
    return [f'"{c}"' for c in columns]


def _changed_columns(conn: duckdb.DuckDBPyConnection, table: str, columns: list[str], day: date) -> set[str]:
    """The columns in which the staged rows of ``day`` in ``table`` differ from the stored ones, exactly (no
    hash): paired on the table's key, every column when a row has no pair or the counts differ; a table
    without a key is compared as multisets, all or nothing."""
    selected = ", ".join(_quoted(columns))
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
        release(path, checkpoint=False)
        for leftover in (path, *path.parent.glob(path.name + ".*")):
            try:
                leftover.unlink(missing_ok=True)
            except OSError as err:
                log.warning(f"could not remove {leftover} after publishing: {err}")
