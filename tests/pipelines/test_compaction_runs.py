"""Compaction in the runs: the first capture of a month compacts the month before, a recompute of one of its
dates makes it due again, and `dpw compact` and `dpw backfill` compact it once more; every row stays."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from replay.bundle import load_bundle
from tests.conftest import SAMPLE_BUNDLE, capture_dates
from tests.pipelines.conftest import closed_url, point_sources
from warehouse.store import Warehouse


def _month_end_offset() -> int:
    """Days from the sample bundle's date to the last day of its month."""
    bundled = load_bundle(SAMPLE_BUNDLE).as_of
    following = date(bundled.year + bundled.month // 12, bundled.month % 12 + 1, 1)
    return (following - bundled).days - 1


@pytest.fixture(scope="module")
def across_a_month(tmp_path_factory):
    """A warehouse of two captures: the last day of a month, then the first of the next."""
    path = tmp_path_factory.mktemp("months") / "warehouse.duckdb"
    last_day, first_day = capture_dates(path, [_month_end_offset(), _month_end_offset() + 1])
    assert first_day.day == 1
    return path, last_day


def _copy(across_a_month, tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(across_a_month[0], path)
    return path


def _compacted(path: Path) -> list[date]:
    with Warehouse(path, read_only=True) as wh:
        return wh.query("SELECT month FROM compacted_months ORDER BY 1").get_column("month").to_list()


def _stored_ids(path: Path, day: date) -> list[int]:
    with Warehouse(path, read_only=True) as wh:
        # No ORDER BY: the order the rows are stored in.
        return (
            wh.query("SELECT package_id FROM package_snapshots WHERE snapshot_date = $d", {"d": day})
            .get_column("package_id")
            .to_list()
        )


def test_the_first_capture_of_a_month_compacts_the_month_before(across_a_month):
    path, last_day = across_a_month
    assert _compacted(path) == [last_day.replace(day=1)]
    ids = _stored_ids(path, last_day)
    assert len(ids) == 240 and ids == sorted(ids)
    # The open month is as published: the listing's order, not the key's.
    first_ids = _stored_ids(path, last_day + timedelta(days=1))
    assert sorted(first_ids) == sorted(ids) and first_ids != sorted(first_ids)


def _stale(path: Path, day: date) -> None:
    """One stored row of ``day`` made different from what its raw gives, so a recompute rewrites the date."""
    with Warehouse(path) as wh:
        wh.conn.execute(
            "UPDATE package_snapshots SET title = 'stale' WHERE snapshot_date = $d "
            "AND package_id = (SELECT min(package_id) FROM package_snapshots WHERE snapshot_date = $d)",
            {"d": day},
        )


def test_a_recompute_makes_the_month_due_and_dpw_compact_compacts_it(across_a_month, tmp_path, monkeypatch):
    path, last_day = _copy(across_a_month, tmp_path), across_a_month[1]
    point_sources(monkeypatch, closed_url())
    runner = CliRunner()

    # A recompute whose rows come out as they were rewrites nothing: the month stays compacted.
    result = runner.invoke(app, ["ingest", "--date", str(last_day), "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert _compacted(path) == [last_day.replace(day=1)]
    assert _stored_ids(path, last_day) == sorted(_stored_ids(path, last_day))

    _stale(path, last_day)
    result = runner.invoke(app, ["ingest", "--date", str(last_day), "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert _compacted(path) == []  # a recompute leaves the compaction to the next capture or a command
    with Warehouse(path, read_only=True) as wh:
        assert wh.row("SELECT count(*) FILTER (title = 'stale') FROM package_snapshots") == (0,)

    result = runner.invoke(app, ["compact", "--warehouse", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"compacted {last_day:%Y-%m}: ")
    assert _compacted(path) == [last_day.replace(day=1)]
    ids = _stored_ids(path, last_day)
    assert len(ids) == 240 and ids == sorted(ids)

    result = runner.invoke(app, ["compact", "--warehouse", str(path)])
    assert (result.exit_code, result.output) == (0, "nothing to compact\n")


def test_a_backfill_compacts_once_at_its_end(across_a_month, tmp_path, monkeypatch):
    path, last_day = _copy(across_a_month, tmp_path), across_a_month[1]
    point_sources(monkeypatch, closed_url())
    _stale(path, last_day)

    result = CliRunner().invoke(
        app, ["backfill", "--from", str(last_day), "--to", str(last_day), "--warehouse", str(path)]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[-2] == f"1 dates backfilled ({last_day} .. {last_day})"
    assert lines[-1].startswith(f"compacted {last_day:%Y-%m}: ")
    assert _compacted(path) == [last_day.replace(day=1)]


def test_dpw_compact_needs_a_warehouse(tmp_path):
    result = CliRunner().invoke(app, ["compact", "--warehouse", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1
    assert "no warehouse at" in result.output
    assert not (tmp_path / "none.duckdb").exists()


@pytest.fixture(scope="module")
def a_due_month(tmp_path_factory) -> Path:
    """A warehouse whose January (31 dates of 20,000 packages, each date in its own order) is due, February
    having a date: big enough that compacting it takes a while."""
    from tests.warehouse.test_marts import metric, publish

    path = tmp_path_factory.mktemp("due") / "warehouse.duckdb"
    first = date(2026, 1, 1)
    with Warehouse(path) as wh:
        publish(
            wh,
            first,
            package_snapshots=[
                {"package_id": 1, "title": "A package", "repo_description": "It does a thing."}
            ],
            daily_package_metrics=[metric(1, stars=7, weeks=[1, 0, 2] * 17 + [3])],
        )
        for table in ("package_snapshots", "daily_package_metrics"):
            wh.conn.execute(
                f"INSERT INTO {table} SELECT t.* REPLACE (CAST($first + CAST(d AS INTEGER) AS DATE) AS snapshot_date, i AS package_id) "
                f"FROM {table} t, range(0, 32) r(d), range(2, 20001) p(i) ORDER BY d, hash(i, d)",
                {"first": first},
            )
    return path


def _fingerprint(path: Path) -> dict[str, tuple]:
    """Each table's rows as a multiset: their count and the sum of their hashes."""
    with Warehouse(path, read_only=True) as wh:
        return {
            table: wh.row(f"SELECT count(*), sum(hash(t)) FROM {table} AS t")
            for table in ("package_snapshots", "daily_package_metrics")
        }


@pytest.mark.parametrize("after", [1.5, 2.5, 4.0])
def test_dpw_compact_killed_at_any_moment_loses_no_row(a_due_month, tmp_path, after):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(a_due_month, path)
    before = _fingerprint(path)
    dpw = [str(Path(sys.executable).with_name("dpw")), "compact", "--warehouse", str(path)]

    run = subprocess.Popen(dpw, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after)
    run.send_signal(signal.SIGKILL)
    run.wait()

    # Compacted whole, or not at all: the same rows either way.
    assert _fingerprint(path) == before
    assert _compacted(path) in ([], [date(2026, 1, 1)])
    finished = subprocess.run(dpw, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    assert _compacted(path) == [date(2026, 1, 1)]
    assert _fingerprint(path) == before
