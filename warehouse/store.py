"""The warehouse gateway: the only code that opens the DuckDB file.

Every write runs in one transaction and replaces whole partitions (delete-then-insert by snapshot date),
so re-running a date replaces exactly that date. Migrations are numbered SQL files applied once each; the
public views are SQL files too (``warehouse/views/``), re-created by a writer whenever one differs from what
the file holds, so a view is changed by editing its file, not by restating it in a migration.
Readers (CLI, notebooks) open read-only and briefly: DuckDB allows one writer process and no readers
while it writes. So that a reader can delay a run but never fail it, every open takes a lock beside the
file first (``<file>.lock``, with a ``<file>.gate`` that gives a waiting writer priority over new
readers): a reader waits a few seconds for a writer, a writer waits for the readers already in, and
both retry DuckDB's own lock for clients that do not know this protocol (the DuckDB shell, a BI tool).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl

from warehouse import history

MIGRATIONS_PACKAGE = "warehouse.migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_(\w+)\.sql$")
VIEWS_PACKAGE = "warehouse.views"
# The public views in the order they are created: a view is checked against the views it reads when it is
# created, so one comes after those (releases reads packages).
VIEWS = ("packages", "categories", "grids", "grid_packages", "releases")
# How a view says which definition it was created from (its comment, which DuckDB keeps with the view and
# copies with the database): comparing this stamp costs a read, so an open that changes nothing writes nothing.
_VIEW_STAMP = "warehouse/views/{name}.sql sha256:{digest}"


class WarehouseError(Exception):
    """A warehouse problem a user can act on (missing file, bad table, bad frame)."""


class WarehouseBusy(WarehouseError):
    """Another process held the file for longer than this open was willing to wait."""


class WarehouseBehind(WarehouseError):
    """A read-only open of a file an older dpw wrote: it lacks migrations a reader cannot apply."""


# A reader gives up after this long (the CLI's one-line "a run is writing" message); a writer waits for
# readers much longer, since what it holds is a day that cannot be fetched again.
READER_WAIT = 10.0
WRITER_WAIT = 600.0
_POLL = 0.05


def _lock_file(path: Path, suffix: str) -> int | None:
    """An open descriptor on the lock file beside the warehouse; None where it cannot be made (a reader
    on a read-only directory), which only loses the priority protocol, not safety: DuckDB still locks."""
    try:
        return os.open(f"{path}{suffix}", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        pass
    try:
        # Another user's lock file (mode 0644 after their umask): flock works on a read-only descriptor.
        return os.open(f"{path}{suffix}", os.O_RDONLY)
    except OSError:
        return None


def _flock(fd: int | None, mode: int, deadline: float) -> bool:
    """Take ``mode`` on ``fd`` before ``deadline`` (monotonic); False when the time ran out."""
    if fd is None:
        return True
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            os.close(fd)  # closing releases the flock


def _is_lock_conflict(err: duckdb.Error) -> bool:
    return "Could not set lock" in str(err) or "Conflicting lock" in str(err)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every shipped migration, in order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def views() -> list[tuple[str, str]]:
    """(name, query) of every public view, in creation order; the query is its file without the trailing
    semicolon."""
    folder = resources.files(VIEWS_PACKAGE)
    return [
        (name, folder.joinpath(f"{name}.sql").read_text(encoding="utf-8").strip().rstrip(";"))
        for name in VIEWS
    ]


def view_stamp(name: str, query: str) -> str:
    return _VIEW_STAMP.format(name=name, digest=hashlib.sha256(query.encode()).hexdigest())


def connection_config(read_only: bool) -> dict[str, str | bool | int | float | list[str]]:
    """DuckDB's configuration of every open of a dpw file. Within a process DuckDB shares one database per
    file among the connections opened with the same configuration (``warehouse.staging.hold``)."""
    if read_only:
        # A reader runs users' SQL: no files written or read outside the warehouse (COPY TO, read_csv).
        return {"enable_external_access": False}
    # A file this creates (the warehouse, a staging file) is written in the configured storage format,
    # which older DuckDB clients open; an existing file keeps its own (warehouse.fileformat).
    from warehouse.fileformat import configured

    return {"storage_compatibility_version": configured()}


class Warehouse:
    """A DuckDB warehouse file with the project's schema."""

    def __init__(self, path: str | Path, *, read_only: bool = False, wait: float | None = None) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise WarehouseError(f"no warehouse at {self.path}: run `dpw demo` or `dpw ingest` first")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._in_transaction = False
        self._columns: dict[str, list[str]] = {}  # read from the catalog (columns_of)
        wait = (READER_WAIT if read_only else WRITER_WAIT) if wait is None else wait
        # One deadline for both waits (the lock beside the file, then DuckDB's own): the wait is the wait.
        deadline = time.monotonic() + wait
        self._lock = self._acquire(deadline, wait)
        # A file this open creates holds no rows, so the history its migrations would rebuild is empty.
        created = not read_only and not self.path.exists()
        try:
            self.conn = self._connect(deadline, wait)
        except BaseException:
            _close(self._lock)
            raise
        try:
            # Stored instants are TIMESTAMPTZ; a UTC session hands them to polars as UTC.
            self.conn.execute("SET TimeZone = 'UTC'")
            self.migrated: list[int] = []  # the migrations this open applied
            if read_only:
                self._refuse_behind()
            else:
                self.migrated = self.migrate()
                self.refresh_views()
                if self.migrated and not created:
                    history.rebuild(self, self.migrated)
        except BaseException:
            # A migration or a view that fails leaves no open connection holding DuckDB's lock.
            self.close()
            raise

    @classmethod
    def current(cls, path: str | Path, *, wait: float | None = None) -> Warehouse:
        """A read-only open for a run's own reads of a file only dpw writes (the warehouse, a kept staging
        file): one an older dpw wrote is migrated first, where a user's reader is told to upgrade. A run
        after an upgrade of dpw must not fail on the file it is about to write anyway."""
        try:
            return cls(path, read_only=True, wait=wait)
        except WarehouseBehind:
            cls(path).close()
            return cls(path, read_only=True, wait=wait)

    def _acquire(self, deadline: float, wait: float) -> int | None:
        """Take this process's turn: readers share ``.lock``; a writer closes ``.gate`` to new readers,
        then waits for the readers already in to leave."""
        gate, lock = _lock_file(self.path, ".gate"), _lock_file(self.path, ".lock")
        try:
            if self.read_only:
                ok = _flock(gate, fcntl.LOCK_SH, deadline) and _flock(lock, fcntl.LOCK_SH, deadline)
            else:
                ok = _flock(gate, fcntl.LOCK_EX, deadline) and _flock(lock, fcntl.LOCK_EX, deadline)
        except BaseException:
            _close(gate, lock)
            raise
        _close(gate)
        if not ok:
            _close(lock)
            raise self._busy(wait)
        return lock

    def _connect(self, deadline: float, wait: float) -> duckdb.DuckDBPyConnection:
        config = connection_config(self.read_only)
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=self.read_only, config=config)
            except duckdb.IOException as err:
                if not _is_lock_conflict(err):
                    raise WarehouseError(f"cannot open the warehouse at {self.path}: {err}") from err
                if time.monotonic() >= deadline:
                    raise self._busy(wait, holder=str(err)) from None
            time.sleep(_POLL)

    def _busy(self, wait: float, holder: str = "") -> WarehouseBusy:
        pid = re.search(r"\(PID (\d+)\)", holder)
        who = f"process {pid.group(1)}" if pid else "another process"
        if self.read_only:
            return WarehouseBusy(
                f"{self.path} is being written by {who} (a run publishing a date); waited {wait:.0f} s, "
                "try again in a moment"
            )
        return WarehouseBusy(f"{self.path} is held by {who}; waited {wait:.0f} s for it to let go")

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            _close(self._lock)
            self._lock = None

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # schema ---------------------------------------------------------------------------------------

    def _refuse_behind(self) -> None:
        """A reader cannot migrate; rather than a missing-table error on some query, say what to run. A file
        with no ledger at all is not judged: it may be any DuckDB file a reader points the CLI at."""
        has_ledger = self.conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND table_name = 'schema_migrations'"
        ).fetchone()
        if not has_ledger or not has_ledger[0]:
            return
        done = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations").fetchall()}
        pending = [f"{version:03d}_{name}" for version, name, _ in migrations() if version not in done]
        if pending:
            raise WarehouseBehind(
                f"{self.path} predates migrations {', '.join(pending)} of this dpw: run `dpw upgrade` (or the "
                "next `dpw ingest`) once to apply them"
            )

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet, each in its own transaction (all in one for a new file);
        return their versions."""
        self._columns.clear()
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        )
        done = {row[0] for row in self.conn.execute("SELECT version FROM schema_migrations").fetchall()}
        pending = [migration for migration in migrations() if migration[0] not in done]
        # A new file takes them all in one transaction: it has nothing to keep between them, and a commit
        # each made creating one (a run's staging file, before it parses) a fifth slower.
        for batch in [pending] if not done and pending else [[migration] for migration in pending]:
            with self.transaction() as conn:
                for version, name, sql in batch:
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
        return [version for version, _, _ in pending]

    def refresh_views(self) -> list[str]:
        """Re-create the public views if any differs from its file (or has no stamp, as the views the first
        migration made); return the names re-created. All of them are re-created together, in order,
        since a view's columns are fixed when it is created and a view reading a changed one must follow."""
        defined = [(name, query, view_stamp(name, query)) for name, query in views()]
        stored = dict(
            self.conn.execute(
                "SELECT view_name, comment FROM duckdb_views() "
                "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal"
            ).fetchall()
        )
        if all(stored.get(name) == stamp for name, _, stamp in defined):
            return []
        self._columns.clear()
        with self.transaction() as conn:
            for name, query, stamp in defined:
                try:
                    conn.execute(f'CREATE OR REPLACE VIEW "{name}" AS\n{query}')
                except duckdb.Error as err:
                    raise WarehouseError(
                        f"the view {name} (warehouse/views/{name}.sql) cannot be created: {err}"
                    ) from err
                conn.execute(f"COMMENT ON VIEW \"{name}\" IS '{stamp}'")
        return [name for name, _, _ in defined]

    def columns(self, table: str) -> list[str]:
        return self.columns_of([table])[table]

    def columns_of(self, tables: list[str]) -> dict[str, list[str]]:
        """The columns of each of ``tables``, in their order. The catalog is read once an open for a table
        (3 ms a read, forty a recompute): only a migration changes them, and ``migrate`` and
        ``refresh_views`` forget what was read."""
        unread = [table for table in dict.fromkeys(tables) if table not in self._columns]
        if unread:
            rows = self.conn.execute(
                # Only this file's tables: an attached staging file has tables of the same names.
                "SELECT table_name, list(column_name ORDER BY ordinal_position) FROM information_schema.columns "
                "WHERE table_name IN (SELECT unnest($t)) AND table_catalog = current_database() GROUP BY 1",
                {"t": unread},
            ).fetchall()
            self._columns.update(rows)
        missing = [table for table in tables if table not in self._columns]
        if missing:
            raise WarehouseError(f"no table or view named {missing[0]!r} in {self.path}")
        return {table: list(self._columns[table]) for table in tables}

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
        """One transaction; a nested use joins the enclosing one, so writes compose into one commit."""
        if self.read_only:
            raise WarehouseError(f"the warehouse at {self.path} is open read-only")
        if self._in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
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
        A ``raw_records`` frame may be a raw frame (``warehouse.raw.RAW_SCHEMA``: payload text instead of
        ``document_id``): its documents are then stored once each (``warehouse.raw.replace_raw``).
        """
        from warehouse import raw  # raw builds on this module

        scope = scope or {}
        for table, frame in frames.items():
            if not (table == "raw_records" and "payload" in frame.columns):
                self._check_frame(table, frame, snapshot_date)
        written = {}
        with self.transaction() as conn:
            for table, frame in frames.items():
                if table == "raw_records" and "payload" in frame.columns:
                    column, values = scope.get(table, ("source", None))
                    if column != "source":
                        raise WarehouseError(f"raw_records is replaced by source, not by {column}")
                    written[table] = raw.replace_raw(self, snapshot_date, frame, values)
                    continue
                where = "snapshot_date = $d"
                params: dict[str, object] = {"d": snapshot_date}
                if table in scope:
                    column, values = scope[table]
                    where += f' AND "{column}" IN (SELECT unnest($v))'
                    params["v"] = values
                conn.execute(f'DELETE FROM "{table}" WHERE {where}', params)
                self._insert(table, frame)
                written[table] = frame.height
        return written

    def append(self, table: str, frame: pl.DataFrame) -> int:
        """Append rows to a log table, in one transaction."""
        self._check_frame(table, frame, None)
        with self.transaction():
            self._insert(table, frame)
        return frame.height

    def replace_run(self, table: str, run_id: str, frame: pl.DataFrame) -> int:
        """Replace one run's rows of a log table (ingest_runs, guard_results): a run's row is written when
        it starts and rewritten when it ends, so a run that was killed stays visible."""
        self._check_frame(table, frame, None)
        with self.transaction() as conn:
            conn.execute(f'DELETE FROM "{table}" WHERE run_id = ?', [run_id])
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
