"""The storage format files are created in, the files it leaves alone, and the upgrade of an older file."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import legacy_warehouse
from warehouse import fileformat, staging
from warehouse.store import Warehouse, WarehouseBusy, WarehouseError, migrations

DAY = date(2026, 3, 2)


def stored_format(path: Path) -> str:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return fileformat.storage_version(conn)
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def old_style(path: Path, rows: int = 3) -> Path:
    """A warehouse as dpw made it before the storage version was set: plain duckdb.connect (DuckDB 2's own
    format), the migrations applied, rows inserted."""
    conn = legacy_warehouse(path)
    conn.execute(
        "INSERT INTO raw_documents SELECT i + 1, left(sha256(p), 32), NULL, p FROM (SELECT i, "
        '\'{"id": \' || i || \', "title": "caf\u00e9 \u2603"}\' AS p FROM range(?) t(i))',
        [rows],
    )
    conn.execute(
        "INSERT INTO raw_records SELECT ?::DATE, 'djangopackages/packages', i::VARCHAR, 'ok', i + 1 "
        "FROM range(?) t(i)",
        [DAY, rows],
    )
    conn.execute(
        "INSERT INTO guard_results VALUES ('run-0', ?, 'reject_share', 'ok', 0.0, 'none rejected')", [DAY]
    )
    conn.close()
    # A writer open brings the views up to date (a file change of its own): done here, so that what these
    # tests see change is the storage format alone. The file keeps its format.
    Warehouse(path).close()
    assert stored_format(path) == "v2.0.0+"
    return path


def test_the_setting_takes_duckdb_versions_from_v1_4_0() -> None:
    for good in ("v1.4.0", "v1.4.4", "v1.5.2", "v2.0.0", "latest"):
        assert fileformat.check(good) == good
    for bad, why in (
        ("1.4.0", "not a DuckDB version like v1.4.0"),
        ("v1.4", "not a DuckDB version like v1.4.0"),
        ("v1.3.2", "older than v1.4.0"),
        ("v1.0.0", "older than v1.4.0"),
        ("v9.9.9", "not a DuckDB release"),
    ):
        with pytest.raises(ValueError, match=why):
            fileformat.check(bad)


def test_newer_compares_duckdb_tags_with_the_setting() -> None:
    assert fileformat.newer("v2.0.0+", "v1.4.0")
    assert fileformat.newer("v1.5.0+", "v1.4.4")
    assert not fileformat.newer("v1.4.0+", "v1.4.0")
    assert not fileformat.newer("v1.4.0+", "v1.4.4")  # what DuckDB writes for v1.4.4: done once
    assert not fileformat.newer("v2.0.0+", "latest")


def test_new_warehouse_and_staging_files_are_created_in_the_configured_format(tmp_path: Path) -> None:
    main = tmp_path / "warehouse.duckdb"
    staged = staging.staging_file(main, DAY, "run-1")
    staged.parent.mkdir()
    for path in (main, staged):
        Warehouse(path).close()
        assert stored_format(path) == "v1.4.0+"


def test_the_configured_format_is_the_one_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fileformat, "_configured", fileformat.DEFAULT_STORAGE_VERSION)
    fileformat.configure("v1.5.0")
    Warehouse(tmp_path / "w.duckdb").close()
    assert stored_format(tmp_path / "w.duckdb") == "v1.5.0+"


def test_an_existing_file_keeps_its_format_and_readers_never_touch_it(tmp_path: Path) -> None:
    path = old_style(tmp_path / "warehouse.duckdb")
    before = digest(path)
    with Warehouse(path, read_only=True) as wh:
        assert wh.row("SELECT count(*) FROM raw_records")[0] == 3
    assert digest(path) == before
    with Warehouse(path) as wh:  # a run writing to it: rows go in, the format stays
        wh.conn.execute("DELETE FROM raw_records WHERE record_key = '0'")
    assert stored_format(path) == "v2.0.0+"


@pytest.mark.parametrize("staged_old", [True, False], ids=["old staging file", "old warehouse"])
def test_a_staging_file_publishes_into_a_warehouse_of_the_other_format(
    tmp_path: Path, staged_old: bool
) -> None:
    main, staged = tmp_path / "warehouse.duckdb", tmp_path / "staged.duckdb"
    if staged_old:
        old_style(staged, rows=5)
        Warehouse(main).close()
    else:
        old_style(main, rows=0)
        with Warehouse(staged) as wh:
            wh.conn.execute(
                "INSERT INTO raw_records SELECT ?::DATE, 'djangopackages/packages', i::VARCHAR, 'ok', NULL "
                "FROM range(5) t(i)",
                [DAY],
            )
    formats = stored_format(main), stored_format(staged)
    assert formats[0] != formats[1]
    written = staging.publish(main, staged, DAY, "run-1", {})
    assert written["raw_records"] == 5
    assert stored_format(main) == formats[0]


def test_upgrade_rewrites_an_old_warehouse_once_with_every_row(tmp_path: Path) -> None:
    path = old_style(tmp_path / "warehouse.duckdb", rows=2000)
    with Warehouse(path, read_only=True) as wh:
        before = fileformat.checksums(wh.conn, "warehouse")
        kinds = list(fileformat.objects(wh.conn, "warehouse").values())
    done = fileformat.upgrade(path)
    assert done.upgraded and done.found == "v2.0.0+" and done.wanted == "v1.4.0"
    assert (done.tables, done.views) == (kinds.count("table"), kinds.count("view")) == (len(kinds) - 5, 5)
    assert done.rows == 2000 + 2000 + 1 + len(
        migrations()
    )  # raw rows, their documents, a guard row, the ledger
    assert "DuckDB 1.4.0 and later open it" in done.describe()
    assert stored_format(path) == "v1.4.0+"
    with Warehouse(path, read_only=True) as wh:
        assert fileformat.checksums(wh.conn, "warehouse") == before
        assert wh.row("SELECT max(version) FROM schema_migrations")[0] == migrations()[-1][0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "warehouse.duckdb",
        "warehouse.duckdb.gate",
        "warehouse.duckdb.lock",
    ]
    again = fileformat.upgrade(path)
    assert not again.upgraded and "nothing to do" in again.describe()


def test_upgrade_is_refused_while_a_run_holds_the_file(tmp_path: Path) -> None:
    path = old_style(tmp_path / "warehouse.duckdb")
    before = digest(path)
    with Warehouse(path):  # a run publishing
        with pytest.raises(WarehouseBusy, match="is held by"):
            fileformat.upgrade(path, wait=0.2)
    assert digest(path) == before and stored_format(path) == "v2.0.0+"


def test_a_copy_that_does_not_match_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = old_style(tmp_path / "warehouse.duckdb")
    before = digest(path)
    real = fileformat.checksums

    def lossy(conn, catalog):
        found = real(conn, catalog)
        return {**found, "raw_records": (0, "0")} if catalog == "dpw_upgrade" else found

    monkeypatch.setattr(fileformat, "checksums", lossy)
    with pytest.raises(WarehouseError, match="differs in raw_records; the file is unchanged"):
        fileformat.upgrade(path)
    assert digest(path) == before
    assert not (tmp_path / "warehouse.duckdb.upgrade").exists()


def test_upgrade_needs_a_warehouse(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="no warehouse at"):
        fileformat.upgrade(tmp_path / "none.duckdb")
    assert not (tmp_path / "none.duckdb").exists()


def test_checksums_see_a_changed_value(tmp_path: Path) -> None:
    path = old_style(tmp_path / "warehouse.duckdb")
    with Warehouse(path) as wh:
        first = fileformat.checksums(wh.conn, "warehouse")
        wh.conn.execute("UPDATE raw_records SET document_id = NULL WHERE record_key = '1'")
        second = fileformat.checksums(wh.conn, "warehouse")
    assert first["raw_records"][0] == second["raw_records"][0]
    assert first["raw_records"][1] != second["raw_records"][1]
    assert first["guard_results"] == second["guard_results"]


def test_frames_written_after_an_upgrade_land_as_before(tmp_path: Path) -> None:
    path = old_style(tmp_path / "warehouse.duckdb")
    fileformat.upgrade(path)
    with Warehouse(path) as wh:
        frame = wh.partition("raw_records", DAY).with_columns(pl.lit("missing").alias("status"))
        wh.replace_partitions(DAY, {"raw_records": frame})
        assert wh.row("SELECT count(*) FROM raw_records WHERE status = 'missing'")[0] == 3
    assert stored_format(path) == "v1.4.0+"
