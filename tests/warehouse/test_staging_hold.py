"""A run holds its staging file open from its first step to its publication (``staging.hold``): its commits go
to the file's write-ahead log, every open in the process shares the held database, and what was committed
survives a kill before the release."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

from tests.warehouse.test_marts import rows
from warehouse import staging
from warehouse.store import Warehouse

DAY = date(2026, 6, 1)
NEXT = date(2026, 6, 2)


def _packages(n: int):
    return rows("package_snapshots", DAY, *({"package_id": i, "title": f"p{i}"} for i in range(1, n + 1)))


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _count(path: Path) -> int:
    with Warehouse(path, read_only=True) as wh:
        return wh.row("SELECT count(*) FROM package_snapshots WHERE snapshot_date = ?", [DAY])[0]


def test_a_held_file_commits_to_its_log_and_every_open_in_the_process_shares_it(tmp_path):
    path = tmp_path / "staged.duckdb"
    Warehouse(path).close()
    staging.hold(path)
    try:
        # Two steps' commits, past the 16 MB of log at which DuckDB would write the file out by default.
        for day in (DAY, NEXT):
            with Warehouse(path) as wh:
                wh.replace_partitions(day, {"package_snapshots": _wordy(day, 20_000)})
        # Neither the commits nor the closes wrote the file out: the rows are in the log.
        assert _wal(path).stat().st_size > 16 * 2**20
        with Warehouse(path) as wh:
            assert wh.row("SELECT count(*) FROM package_snapshots")[0] == 40_000
    finally:
        staging.release(path)
    assert not _wal(path).exists()  # written into the file as it was let go
    assert _count(path) == 20_000


def _wordy(day: date, n: int):
    """Packages with long descriptions: 20,000 are 10 MB of log."""
    return rows(
        "package_snapshots",
        day,
        *({"package_id": i, "repo_description": f"{i} " * 250} for i in range(1, n + 1)),
    )


def test_a_file_not_held_is_written_out_as_it_closes(tmp_path):
    path = tmp_path / "staged.duckdb"
    with Warehouse(path) as wh:
        wh.replace_partitions(DAY, {"package_snapshots": _packages(3000)})
    staging.release(path)  # nothing held: nothing happens
    assert not _wal(path).exists()
    assert _count(path) == 3000


def test_what_a_held_file_committed_survives_a_kill_before_its_release(tmp_path):
    path = tmp_path / "staged.duckdb"
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from tests.warehouse.test_staging_hold import _packages, DAY
        from warehouse import staging
        from warehouse.store import Warehouse

        path = Path({str(path)!r})
        Warehouse(path).close()
        staging.hold(path)
        with Warehouse(path) as wh:
            wh.replace_partitions(DAY, {{"package_snapshots": _packages(2500)}})
        os._exit(9)  # no release, no close: as a kill would leave it
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], check=False)
    assert done.returncode == 9
    assert _wal(path).exists()
    assert _count(path) == 2500  # a reader replays the log
    with Warehouse(path) as wh:  # and the next writer keeps it
        assert wh.row("SELECT count(*) FROM package_snapshots")[0] == 2500


def test_a_published_file_is_let_go_without_being_written_out_and_removed(tmp_path):
    path = tmp_path / "staged.duckdb"
    Warehouse(path).close()
    staging.hold(path)
    with Warehouse(path) as wh:
        wh.replace_partitions(DAY, {"package_snapshots": _packages(3000)})
    staging.discard(path)
    assert list(tmp_path.iterdir()) == []
    # Let go: a new file of the same name is a new database, not the held one.
    with Warehouse(path) as wh:
        assert wh.row("SELECT count(*) FROM package_snapshots")[0] == 0


def test_the_warehouse_a_recompute_reads_through_is_detached_on_the_way_out(tmp_path):
    main, path = tmp_path / "warehouse.duckdb", tmp_path / "staged.duckdb"
    Warehouse(main).close()
    Warehouse(path).close()
    staging.hold(path)
    try:
        for _ in range(2):  # two steps of one run: the second attaches it again
            with Warehouse(path) as wh:
                with staging.read_raw_of(wh, main):
                    assert wh.row("SELECT count(*) FROM raw_records")[0] == 0
                    assert _attached(wh) == [staging.RAW_SOURCE]
                assert _attached(wh) == []
    finally:
        staging.release(path)


def _attached(wh: Warehouse) -> list[str]:
    return [
        row[0]
        for row in wh.conn.execute(
            "SELECT database_name FROM duckdb_databases() WHERE NOT internal AND database_name <> current_database()"
        ).fetchall()
    ]
