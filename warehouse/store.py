"""The warehouse gateway: the only code that opens the DuckDB file.

Every write runs in one transaction and replaces whole partitions (delete-then-insert by snapshot date),
so re-running a date replaces exactly that date. Migrations are numbered SQL files applied once each.
Readers (CLI, notebooks) open read-only and briefly: DuckDB allows one writer process and no readers
while it writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

MIGRATIONS_PACKAGE = "warehouse.migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_(\w+)\.sql$")


class WarehouseError(Exception):
    """A warehouse problem a user can act on (missing file, bad table, bad frame)."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration, in order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Warehouse:
    """A DuckDB warehouse file with the project's schema."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise WarehouseError(f"no warehouse at {self.path}: run `dpw demo` or `dpw ingest` first")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # A reader runs users' SQL: no files written or read outside the warehouse (COPY TO, read_csv).
            config = {"enable_external_access": False} if read_only else {}
            self.conn = duckdb.connect(str(self.path), read_only=read_only, config=config)
        except duckdb.IOException as err:
            raise WarehouseError(f"cannot open the warehouse at {self.path}: {err}") from err
        # Stored instants are TIMESTAMPTZ; a UTC session hands them to polars as UTC.
        self.conn.execute("SET TimeZone = 'UTC'")
        if not read_only:
            self.migrate()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # schema ---------------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet, each in its own transaction; return their versions."""
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        done = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, name, sql in migrations():
            if version in done:
                continue
            with self.transaction() as conn:
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, now())",
                    [version, name],
                )
            applied.append(version)
        return applied

    def columns(self, table: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if not rows:
            raise WarehouseError(f"no table or view named {table!r} in {self.path}")
        return [row[0] for row in rows]

    # reads ----------------------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, object] | list[object] | None = None) -> pl.DataFrame:
        """The rows of a query; a statement that returns none (empty text, SET) gives an empty frame."""
        relation = self.conn.sql(sql, params=params)
        return pl.DataFrame() if relation is None else relation.pl()

    def row(self, sql: str, params: list[object] | None = None) -> tuple:
        """The first row of a query. The result is fetched whole: DuckDB refuses new work on a connection
        while an earlier result is unfinished."""
        rows = self.conn.execute(sql, params or []).fetchall()
        if not rows:
            raise WarehouseError(f"no row from: {sql}")
        return rows[0]

    def partition(self, table: str, snapshot_date: date) -> pl.DataFrame:
        self.columns(table)  # a clear error for an unknown table, before any SQL is built from its name
        return self.query(f'SELECT * FROM "{table}" WHERE snapshot_date = $d', {"d": snapshot_date})

    def has_raw(self, snapshot_date: date, source_prefix: str = "") -> bool:
        count = self.row(
            "SELECT count(*) FROM raw_records WHERE snapshot_date = ? AND starts_with(source, ?)",
            [snapshot_date, source_prefix],
        )[0]
        return count > 0

    def snapshot_dates(self, table: str = "raw_records") -> list[date]:
        self.columns(table)
        rows = self.conn.execute(f'SELECT DISTINCT snapshot_date FROM "{table}" ORDER BY 1').fetchall()
        return [row[0] for row in rows]

    # writes ---------------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.read_only:
            raise WarehouseError(f"the warehouse at {self.path} is open read-only")
        self.conn.execute("BEGIN TRANSACTION")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def replace_partitions(
        self,
        snapshot_date: date,
        frames: Mapping[str, pl.DataFrame],
        *,
        scope: Mapping[str, tuple[str, list[str]]] | None = None,
    ) -> dict[str, int]:
        """Replace ``snapshot_date`` in every table of ``frames`` in one transaction.

        ``scope`` narrows what is deleted in a table that several assets share (for example
        ``{"rejected_records": ("source", ["djangopackages/packages"])}``): only rows of that date whose
        column value is in the list are replaced. Nothing is written unless every frame fits its table.
        """
        scope = scope or {}
        for table, frame in frames.items():
            self._check_frame(table, frame, snapshot_date)
        written = {}
        with self.transaction() as conn:
            for table, frame in frames.items():
                where, params = "snapshot_date = $d", {"d": snapshot_date}
                if table in scope:
                    column, values = scope[table]
                    where += f' AND "{column}" IN (SELECT unnest($v))'
                    params["v"] = values
                conn.execute(f'DELETE FROM "{table}" WHERE {where}', params)
                self._insert(table, frame)
                written[table] = frame.height
        return written

    def append(self, table: str, frame: pl.DataFrame) -> int:
        """Append rows to a log table (ingest_runs), in one transaction."""
        self._check_frame(table, frame, None)
        with self.transaction():
            self._insert(table, frame)
        return frame.height

    def _insert(self, table: str, frame: pl.DataFrame) -> None:
        if frame.height:
            # Inserting a relation is positional, so the frame is put in the table's column order.
            self.conn.from_arrow(frame.select(self.columns(table)).to_arrow()).insert_into(table)

    def _check_frame(self, table: str, frame: pl.DataFrame, snapshot_date: date | None) -> None:
        expected = self.columns(table)
        if set(frame.columns) != set(expected):
            raise WarehouseError(
                f"{table}: the frame's columns do not match the table: "
                f"unknown {sorted(set(frame.columns) - set(expected))}, missing {sorted(set(expected) - set(frame.columns))}"
            )
        if snapshot_date is not None and frame.height:
            dates = frame.get_column("snapshot_date").unique().to_list()
            if dates != [snapshot_date]:
                raise WarehouseError(f"{table}: rows for {dates} in a write of partition {snapshot_date}")
