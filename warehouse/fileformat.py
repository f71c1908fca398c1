"""The warehouse file's storage format: which DuckDB clients open it, and the upgrade of an older file.

DuckDB 2 writes a new database file in its own storage format unless told otherwise, and DuckDB 1.4 and 1.5
(what most SQL editors, BI tools and shells still embed) refuse that file. So every file the project
creates (the warehouse, a run's staging file) is created with a storage compatibility version, by
default ``v1.4.0``: DuckDB 1.4.0 and every later release open it, every table and view. An existing file
keeps the format it was created in, whoever writes to it.

A warehouse created before that (or with a newer ``DPW_STORAGE_VERSION``) is rewritten once by
`upgrade` (``dpw upgrade``): copied into a new file in the configured format under the writer's lock,
checked table by table, and swapped in with one rename. Nothing on the read path ever rewrites a file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

# The newest format DuckDB 1.4 (the long-term-support line) reads, and the oldest this accepts. Measured
# with DuckDB 2.0.1 writing the sample warehouse: DuckDB 1.4.0, 1.4.4 and 1.5.6 read every table and view
# of a v1.4.0 file with the writer's checksums; DuckDB 1.3.2 reads a v1.3.0 file but gets some strings as
# NULL (a wrong answer, not an error), and DuckDB 1.0.0 cannot open a v1.0.0 file. So no older format.
DEFAULT_STORAGE_VERSION = "v1.4.0"
OLDEST_STORAGE_VERSION = "v1.4.0"
LATEST = "latest"

_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)\+?$")
_configured = DEFAULT_STORAGE_VERSION


def check(version: str) -> str:
    """``version`` if DuckDB can write files for it (``v1.4.0``, ``v1.5.2``, ``latest``); ValueError
    saying why not otherwise."""
    if version != LATEST:
        if not _VERSION.match(version):
            raise ValueError(f"{version!r} is not a DuckDB version like v1.4.0 (or latest)")
        if _parse(version) < _parse(OLDEST_STORAGE_VERSION):
            raise ValueError(
                f"{version} is older than {OLDEST_STORAGE_VERSION}: DuckDB clients before 1.4 misread or refuse "
                "the files DuckDB 2 writes for them"
            )
    if not _known(version):
        raise ValueError(f"{version} is not a DuckDB release this DuckDB ({duckdb.__version__}) knows")
    return version


@cache
def _known(version: str) -> bool:
    try:
        duckdb.connect(config={"storage_compatibility_version": version}).close()
    except duckdb.Error:
        return False
    return True


def configure(version: str) -> None:
    """Set the format new files are created in, for this process (from ``DPW_STORAGE_VERSION``)."""
    global _configured
    _configured = check(version)


def configured() -> str:
    return _configured


def _parse(version: str) -> tuple[int, ...]:
    if version == LATEST:
        return (1_000_000,)
    match = _VERSION.match(version)
    if not match:
        raise ValueError(f"not a DuckDB storage version: {version!r}")
    return tuple(int(part) for part in match.groups())


def newer(found: str, wanted: str) -> bool:
    """Whether a file in storage version ``found`` (DuckDB's tag, e.g. ``v2.0.0+``) is too new for clients
    of ``wanted``. DuckDB writes the newest format at or before the version asked for, so after an
    upgrade this is False: the upgrade is done once."""
    return _parse(found) > _parse(wanted)


def storage_version(conn: duckdb.DuckDBPyConnection, database: str | None = None) -> str:
    """The storage version of an open database (``v1.4.0+``: readable by DuckDB 1.4.0 and later)."""
    row = conn.execute(
        "SELECT tags['storage_version'] FROM duckdb_databases() "
        "WHERE database_name = coalesce(?, current_database())",
        [database],
    ).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"no storage version for database {database or 'current'}")
    return row[0]


def checksum_sql(table: str, catalog: str | None = None) -> str:
    """One row, (rows, checksum), for a table or view: the sum of each row's text's MD5 (its lower 64
    bits), so the order rows are stored in does not matter. Runs the same on DuckDB 1.4 and 2; the row
    text depends on the session's TimeZone (the warehouse sets UTC), so compare within one setting."""
    name = f'"{catalog}"."{table}"' if catalog else f'"{table}"'
    return f"SELECT count(*), CAST(sum(md5_number_lower(CAST(r AS VARCHAR))) AS VARCHAR) FROM {name} r"


def objects(conn: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, str]:
    """Every table and view of a database: name to 'table' or 'view'."""
    rows = conn.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = ? "
        "AND table_schema = 'main' ORDER BY 1",
        [catalog],
    ).fetchall()
    return {name: "view" if kind == "VIEW" else "table" for name, kind in rows}


def checksums(conn: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, tuple[int, str]]:
    """(rows, checksum) of every table and view of a database."""
    return {
        name: (rows, checksum)
        for name in objects(conn, catalog)
        for rows, checksum in conn.execute(checksum_sql(name, catalog)).fetchall()  # one row each
    }


@dataclass(frozen=True)
class Upgrade:
    path: Path
    found: str  # the storage version the file had
    wanted: str  # the configured one
    upgraded: bool
    tables: int = 0
    views: int = 0
    rows: int = 0  # in the tables
    migrated: tuple[int, ...] = ()  # schema migrations the upgrade's open applied

    def describe(self) -> str:
        if not self.upgraded:
            return (
                f"{self.path} is already in storage format {self.found} (DPW_STORAGE_VERSION {self.wanted})"
                + (
                    f"; applied migrations {', '.join(map(str, self.migrated))}"
                    if self.migrated
                    else ": nothing to do"
                )
            )
        return (
            f"upgraded {self.path} from storage format {self.found} to {self.wanted}: {self.tables} tables "
            f"({self.rows} rows) and {self.views} views copied, every checksum equal; {clients(self.wanted)}"
            + (f"; applied migrations {', '.join(map(str, self.migrated))} first" if self.migrated else "")
        )


def clients(version: str) -> str:
    """Which DuckDB clients open a file written for ``version``."""
    if version == LATEST:
        return f"only DuckDB {'.'.join(duckdb.__version__.split('.')[:2])} and later open it"
    return f"DuckDB {version.lstrip('v')} and later open it"


def upgrade(path: str | Path, *, wait: float = 10.0, version: str | None = None) -> Upgrade:
    """Rewrite the warehouse at ``path`` in the configured storage format if it is in a newer one.

    Takes the writer's turn the way a run does (``Warehouse(path)``), waiting at most ``wait`` seconds
    for a run or a reader to let go, else raises WarehouseBusy. Copies every table, view and the
    migration ledger into ``<path>.upgrade`` (COPY FROM DATABASE), compares every table's and view's
    row count and checksum, then replaces the file with one rename: a crash at any point leaves either
    the old file or the new one whole. Returns what it did.
    """
    from warehouse.store import Warehouse, WarehouseError

    path = Path(path)
    wanted = check(version or configured())
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}: nothing to upgrade")
    temp = path.with_name(path.name + ".upgrade")
    wh = Warehouse(path, wait=wait)
    try:
        conn = wh.conn
        found = storage_version(conn)
        if not newer(found, wanted):
            return Upgrade(path, found, wanted, upgraded=False, migrated=tuple(wh.migrated))
        [(main,)] = conn.execute("SELECT current_database()").fetchall()
        for leftover in (temp, Path(f"{temp}.wal")):  # an upgrade that died: only this one writes it
            leftover.unlink(missing_ok=True)
        try:
            conn.execute("ATTACH ? AS dpw_upgrade (STORAGE_VERSION ?)", [str(temp), wanted])
            try:
                conn.execute(f'COPY FROM DATABASE "{main}" TO dpw_upgrade')
                conn.execute("CHECKPOINT dpw_upgrade")
                before, after = checksums(conn, main), checksums(conn, "dpw_upgrade")
                kinds, copied = objects(conn, main), objects(conn, "dpw_upgrade")
                written = storage_version(conn, "dpw_upgrade")
            finally:
                conn.execute("DETACH dpw_upgrade")
            if before != after or kinds != copied:
                differ = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
                raise WarehouseError(
                    f"the copy of {path} differs in {', '.join(differ)}; the file is unchanged"
                )
            if newer(written, wanted):
                raise WarehouseError(
                    f"DuckDB wrote storage format {written}, not {wanted}; the file is unchanged"
                )
            # Closing checkpoints the old file; a write-ahead log left beside it would be replayed
            # against the new one, so the swap happens only without one.
            conn.close()
            if Path(f"{path}.wal").exists():
                raise WarehouseError(f"{path}.wal is still there after closing {path}; the file is unchanged")
            os.replace(temp, path)
            _sync_dir(path.parent)
        except BaseException:
            for leftover in (temp, Path(f"{temp}.wal")):
                leftover.unlink(missing_ok=True)
            raise
        return Upgrade(
            path,
            found,
            wanted,
            upgraded=True,
            tables=sum(kind == "table" for kind in kinds.values()),
            views=sum(kind == "view" for kind in kinds.values()),
            rows=sum(before[name][0] for name, kind in kinds.items() if kind == "table"),
            migrated=tuple(wh.migrated),
        )
    finally:
        wh.close()  # the connection (if still open) and then the writer's lock


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
