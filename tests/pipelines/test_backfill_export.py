"""`dpw backfill` rebuilds stored dates from their raw without a request and, with nothing changed, leaves
every row as it was; `dpw export` writes the public tables as Parquet that DuckDB and polars read back to
the warehouse's rows."""

import json
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import capture_days
from tests.pipelines.conftest import closed_url, point_sources
from warehouse.store import Warehouse

LOGS = {"ingest_runs", "guard_results"}


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    path = tmp_path_factory.mktemp("captured") / "warehouse.duckdb"
    return path, capture_days(path, 3)


@pytest.fixture
def dead_sources(monkeypatch):
    """Every source URL at a closed port: a request would fail the run or show in raw_requests."""
    point_sources(monkeypatch, closed_url())


def _copy(captured, tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(captured[0], path)
    return path


def _relations(conn: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'main' "
        "ORDER BY 1",
        [catalog],
    ).fetchall()
    return [name for (name,) in rows]


def _differences(before: Path, after: Path) -> dict[str, tuple[int, int]]:
    """Per table and view: (rows only before, rows only after), each side's rows as a multiset."""
    conn = duckdb.connect()
    try:
        conn.execute("ATTACH ? AS b (READ_ONLY)", [str(before)])
        conn.execute("ATTACH ? AS a (READ_ONLY)", [str(after)])
        assert _relations(conn, "b") == _relations(conn, "a")
        return {
            name: conn.execute(
                f'SELECT (SELECT count(*) FROM (FROM b."{name}" EXCEPT ALL FROM a."{name}")), '
                f'(SELECT count(*) FROM (FROM a."{name}" EXCEPT ALL FROM b."{name}"))'
            ).fetchone()
            for name in _relations(conn, "a")
        }
    finally:
        conn.close()


def test_the_differences_are_found(captured, tmp_path):
    # The comparison below can fail: one changed value is one row only on each side.
    path = _copy(captured, tmp_path)
    changed = tmp_path / "changed.duckdb"
    shutil.copy(path, changed)
    with duckdb.connect(str(changed)) as conn:
        conn.execute(
            "UPDATE package_snapshots SET title = title || ' (changed)' "
            "WHERE package_id = (SELECT min(package_id) FROM package_snapshots)"
        )
    differences = _differences(path, changed)
    assert differences["package_snapshots"] == (3, 3)
    assert differences["daily_package_metrics"] == (0, 0)


def test_backfill_sends_no_request_and_leaves_identical_rows(captured, tmp_path, dead_sources):
    path = _copy(captured, tmp_path)
    before = tmp_path / "before.duckdb"
    shutil.copy(path, before)
    first, *_, last = dates = captured[1]

    result = CliRunner().invoke(
        app,
        [
            "backfill",
            "--from",
            str(first - timedelta(days=2)),
            "--to",
            str(last + timedelta(days=1)),
            "--warehouse",
            str(path),
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{first - timedelta(days=2)} .. {first - timedelta(days=1)}: skipped, no raw data stored",
        *(f"{day}: recomputed, 240 packages scored with dpas-1.0, 0 requests" for day in dates),
        f"{last + timedelta(days=1)}: skipped, no raw data stored",
        f"3 dates backfilled ({first} .. {last})",
    ]
    differences = _differences(before, path)
    # raw_requests among them: no request was made.
    assert {name: d for name, d in differences.items() if name not in LOGS} == {
        name: (0, 0) for name in differences if name not in LOGS
    }
    assert differences["ingest_runs"] == (0, 3)
    assert differences["guard_results"][0] == 0 < differences["guard_results"][1]
    with Warehouse(path, read_only=True) as wh:
        runs = wh.query(
            "SELECT snapshot_date, mode, status, requests_djangopackages + requests_github + requests_pypi "
            "AS requests FROM ingest_runs WHERE run_id NOT IN (SELECT run_id FROM ingest_runs WHERE "
            "started_at <= $t) ORDER BY snapshot_date",
            {"t": _last_start(before)},
        )
    assert runs.rows() == [(day, "recompute", "ok", 0) for day in dates]


def _last_start(path: Path):
    with Warehouse(path, read_only=True) as wh:
        return wh.row("SELECT max(started_at) FROM ingest_runs")[0]


def test_a_failed_date_stops_the_backfill_and_says_what_was_done(captured, tmp_path, dead_sources):
    path = _copy(captured, tmp_path)
    _, second, third = captured[1]
    # The third date's package records gone from its raw: its recompute fails, with nothing to publish.
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            "DELETE FROM raw_records WHERE snapshot_date = ? AND source = 'djangopackages/packages'", [third]
        )
        stored = conn.execute(
            "SELECT count(*) FROM package_snapshots WHERE snapshot_date = ?", [third]
        ).fetchone()

    result = CliRunner().invoke(
        app, ["backfill", "--from", str(second), "--to", str(third), "--warehouse", str(path)]
    )

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{second}: recomputed, 240 packages scored with dpas-1.0, 0 requests"
    ]
    assert " ".join(result.stderr.split()) == (
        f"error: the run for {third} failed: ingest_runs: no package record is staged for {third}: there is "
        f"nothing to publish; 1 dates backfilled ({second} .. {second})"
    )
    with Warehouse(path, read_only=True) as wh:  # the refused date's published rows are as they were
        assert wh.row("SELECT count(*) FROM package_snapshots WHERE snapshot_date = ?", [third]) == stored


def _read_polars(root: Path, entry: dict) -> pl.DataFrame:
    if entry["partitioned_by"]:
        return pl.read_parquet(root / entry["path"], hive_partitioning=True)
    return pl.read_parquet(root / entry["path"])


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    # Lists cannot be sorted on; equal rows have equal hashes, so this orders both sides alike.
    return frame.sort(pl.struct(pl.all()).hash(seed=0))


def test_export_reads_back_with_polars_and_duckdb(captured, tmp_path):
    path, dates = captured
    target = tmp_path / "shared" / "export"

    result = CliRunner().invoke(app, ["export", "--to", str(target), "--warehouse", str(path)])

    assert result.exit_code == 0, result.output
    manifest = json.loads((target / "manifest.json").read_text())
    assert (manifest["format"], manifest["first_date"], manifest["last_date"]) == (
        "dpw-export",
        str(dates[0]),
        str(dates[-1]),
    )
    tables = manifest["tables"]
    with Warehouse(path, read_only=True) as wh:
        assert manifest["schema_version"] == wh.row("SELECT max(version) FROM schema_migrations")[0]
        everything = set(wh.query("SELECT table_name FROM information_schema.tables")["table_name"])
        expected = {name: wh.query(f'SELECT * FROM "{name}"') for name in tables}
    # Every table and view but raw data and the migration ledger, whichever migrations made them.
    assert set(tables) == everything - {"raw_records", "raw_documents", "raw_requests", "schema_migrations"}
    assert tables["package_snapshots"]["path"] == "package_snapshots"
    assert tables["daily_package_metrics"]["partitioned_by"] == "snapshot_date"
    assert tables["packages"]["path"] == "packages.parquet"
    assert tables["ingest_runs"]["partitioned_by"] is None  # a log: one file
    assert sorted(p.name for p in (target / "package_snapshots").iterdir()) == [
        f"snapshot_date={day}" for day in dates
    ]
    assert f"to {target}" in " ".join(result.output.split())
    assert [p.name for p in target.parent.iterdir()] == ["export"]  # no partial export left beside it

    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("ATTACH ? AS wh (READ_ONLY)", [str(path)])
    compared = 0
    for name, entry in tables.items():
        frame = expected[name]
        assert entry["rows"] == frame.height, name
        assert list(entry["columns"]) == frame.columns, name
        if frame.height == 0:  # an empty dated table is an empty directory: no file to read
            assert not list((target / entry["path"]).glob("**/*.parquet")), name
            continue
        back = _read_polars(target, entry).select(frame.columns)
        assert back.schema == frame.schema, name
        assert _sorted(back).equals(_sorted(frame)), name
        files = str(target / (f"{entry['path']}/*/*.parquet" if entry["partitioned_by"] else entry["path"]))
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        exported = f"SELECT {columns} FROM read_parquet('{files}', hive_partitioning = true)"
        table = f'SELECT {columns} FROM wh."{name}"'
        assert conn.execute(
            f"SELECT (SELECT count(*) FROM ({exported})), (SELECT count(*) FROM ({exported} EXCEPT ALL {table})), "
            f"(SELECT count(*) FROM ({table} EXCEPT ALL {exported}))"
        ).fetchone() == (frame.height, 0, 0), name
        compared += 1
    conn.close()
    assert compared >= 15


def test_export_replaces_a_previous_export_and_refuses_anything_else(captured, tmp_path):
    path = captured[0]
    target = tmp_path / "export"
    assert CliRunner().invoke(app, ["export", "--to", str(target), "--warehouse", str(path)]).exit_code == 0
    (target / "stale.parquet").write_text("from an older export")

    again = CliRunner().invoke(app, ["export", "--to", str(target), "--warehouse", str(path)])

    assert again.exit_code == 0, again.output
    assert not (target / "stale.parquet").exists()
    assert (target / "packages.parquet").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]

    unrelated = tmp_path / "photos"
    unrelated.mkdir()
    (unrelated / "cat.jpg").write_text("meow")
    refused = CliRunner().invoke(app, ["export", "--to", str(unrelated), "--warehouse", str(path)])

    assert refused.exit_code == 1
    assert "holds no dpw export (manifest.json); refusing to replace it" in " ".join(refused.stderr.split())
    assert [p.name for p in unrelated.iterdir()] == ["cat.jpg"]
    a_file = CliRunner().invoke(app, ["export", "--to", str(unrelated / "cat.jpg"), "--warehouse", str(path)])
    assert a_file.exit_code == 1
    assert "cat.jpg exists and is not a directory" in " ".join(a_file.stderr.split())
    assert (unrelated / "cat.jpg").read_text() == "meow"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "photos"]
