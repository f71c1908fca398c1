"""`dpw export`: the public tables as Parquet files, the way to share the data or take it past one machine.

Every public dated table (a ``snapshot_date`` column) is written partitioned by date in the Hive layout
(``<table>/snapshot_date=2026-02-15/data_0.parquet``), which DuckDB, polars, Spark and Trino read as one
table; every current-state view or table, and the two logs, as one file (``<name>.parquet``). Which tables
is read from the database, so a table a migration adds is exported without a change here. ``manifest.json``
says what was exported: the data's dates, each table's rows and columns, the warehouse's schema version.

The export is written into a hidden sibling directory and renamed into place at the end, so nobody sees half
an export; an existing directory is replaced only when it holds a previous export.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from warehouse.store import Warehouse

MANIFEST = "manifest.json"
FORMAT = "dpw-export"  # the manifest's mark: a directory holding it is an export this may replace
# Not exported: raw data as received (payloads only the pipeline reads; far larger than the rest) and the
# migration ledger (not part of the public contract).
EXCLUDED = ("raw_records", "raw_documents", "raw_requests", "schema_migrations")
# Dated, but logs: a run's rows are not a date's state, and a date has as many as it had runs.
LOGS = ("ingest_runs", "ingest_run_sources", "guard_results")
_CATALOG = "dpw"


class ExportError(Exception):
    """An export that cannot be written where asked; the message says why."""


@dataclass(frozen=True)
class ExportedTable:
    name: str
    partitioned: bool  # by snapshot_date, in a directory of its name; else one file
    rows: int
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), in the warehouse's order
    first_date: date | None = None  # of a partitioned table's rows
    last_date: date | None = None

    @property
    def path(self) -> str:
        return self.name if self.partitioned else f"{self.name}.parquet"


@dataclass(frozen=True)
class Export:
    directory: Path
    warehouse: Path
    schema_version: int
    tables: tuple[ExportedTable, ...]

    @property
    def dates(self) -> tuple[date | None, date | None]:
        firsts = [t.first_date for t in self.tables if t.first_date]
        lasts = [t.last_date for t in self.tables if t.last_date]
        return (min(firsts, default=None), max(lasts, default=None))

    def manifest(self) -> dict[str, object]:
        first, last = self.dates
        return {
            "format": FORMAT,
            "warehouse": str(self.warehouse),
            "schema_version": self.schema_version,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "first_date": _iso(first),
            "last_date": _iso(last),
            "tables": {
                t.name: {
                    "path": t.path,
                    "partitioned_by": "snapshot_date" if t.partitioned else None,
                    "rows": t.rows,
                    "first_date": _iso(t.first_date),
                    "last_date": _iso(t.last_date),
                    "columns": dict(t.columns),
                }
                for t in self.tables
            },
        }

    def describe(self) -> str:
        first, last = self.dates
        dated = sum(t.partitioned for t in self.tables)
        return (
            f"exported {len(self.tables)} tables ({dated} partitioned by snapshot_date, "
            f"{len(self.tables) - dated} current-state files; {sum(t.rows for t in self.tables)} rows) "
            f"of {first} .. {last} from {self.warehouse} (schema version {self.schema_version}) to {self.directory}"
        )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _literal(text: str) -> str:
    # COPY's target is not a parameter DuckDB binds, so the path is quoted as a SQL string.
    return "'" + text.replace("'", "''") + "'"


def check_target(directory: Path) -> None:
    """Refuse a target that is not a previous export: a file, or a directory holding anything else."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise ExportError(
            f"{directory} exists and is not a directory; give a new directory or a previous export"
        )
    if not any(directory.iterdir()):
        return
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ExportError(
            f"{directory} is not empty and holds no dpw export ({MANIFEST}); refusing to replace it: "
            "give a new directory or a previous export"
        )


def export(warehouse: str | Path, directory: str | Path) -> Export:
    """Write every public table of ``warehouse`` to ``directory`` as Parquet; return what was written.

    The warehouse is read under the reader's turn (a run waits until the export is done), through a
    connection of its own: the reader's connection may not write files.
    """
    warehouse, directory = Path(warehouse), Path(directory).absolute()
    check_target(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial = _sibling(directory, "partial")
    try:
        with Warehouse(warehouse, read_only=True):
            conn = duckdb.connect()
            try:
                conn.execute("SET TimeZone = 'UTC'")
                conn.execute(f"ATTACH ? AS {_CATALOG} (READ_ONLY)", [str(warehouse)])
                done = Export(directory, warehouse, _schema_version(conn), _write(conn, partial))
            finally:
                conn.close()
        (partial / MANIFEST).write_text(json.dumps(done.manifest(), indent=2) + "\n", encoding="utf-8")
        _swap(partial, directory)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return done


def _schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute(f"SELECT max(version) FROM {_CATALOG}.schema_migrations").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _tables(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, bool, tuple[tuple[str, str], ...]]]:
    """(name, dated, columns) of every table and view to export, by name: dated tables (those with a
    ``snapshot_date``, not logs) are partitioned, the rest written whole."""
    rows = conn.execute(
        "SELECT table_name, list(column_name ORDER BY ordinal_position), "
        "list(data_type ORDER BY ordinal_position) FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = 'main' GROUP BY table_name ORDER BY table_name",
        [_CATALOG],
    ).fetchall()
    return [
        (name, "snapshot_date" in names and name not in LOGS, tuple(zip(names, kinds, strict=True)))
        for name, names, kinds in rows
        if name not in EXCLUDED
    ]


def _write(conn: duckdb.DuckDBPyConnection, into: Path) -> tuple[ExportedTable, ...]:
    written = []
    for name, dated, columns in _tables(conn):
        source = f'{_CATALOG}.main."{name}"'
        if dated:
            # Into a fresh directory, so COPY's own refusal of a non-empty target stays on (no
            # OVERWRITE_OR_IGNORE): replacing a previous export is the final rename's job.
            options, target = "FORMAT parquet, PARTITION_BY (snapshot_date)", into / name
        else:
            options, target = "FORMAT parquet", into / f"{name}.parquet"
        [(rows,)] = conn.execute(
            f"COPY (SELECT * FROM {source}) TO {_literal(str(target))} ({options})"
        ).fetchall()
        first = last = None
        if dated:
            [(first, last)] = conn.execute(
                f"SELECT min(snapshot_date), max(snapshot_date) FROM {source}"
            ).fetchall()
        written.append(ExportedTable(name, dated, int(rows), columns, first, last))
    return tuple(written)


def _swap(partial: Path, directory: Path) -> None:
    """Put the finished export in place of ``directory``: a rename each, the old export removed after.
    Between the two renames the directory is briefly absent, never half written."""
    if directory.exists():
        check_target(directory)  # it may have changed while the export was written
        old = _sibling(directory, "old")
        os.replace(directory, old / directory.name)
        os.replace(partial, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(partial, directory)


def _sibling(directory: Path, kind: str) -> Path:
    """A new hidden directory beside ``directory`` (same file system, so renames are atomic), made with
    the user's usual permissions: the export is for sharing."""
    path = directory.parent / f".{directory.name}.{uuid.uuid4().hex[:12]}.{kind}"
    path.mkdir()
    return path
