"""The dpw CLI over a warehouse with three captured days; the replay server is stopped before any test runs."""

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
import requests
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import capture_days
from tests.pipelines.conftest import closed_url, point_sources
from warehouse.store import Warehouse

DAYS = 3


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "warehouse.duckdb"
    return path, capture_days(path, DAYS)[0]


@pytest.fixture
def cli(history, monkeypatch):
    path, _ = history
    point_sources(monkeypatch, closed_url())
    monkeypatch.setenv("DPW_WAREHOUSE", str(path))

    def run(*args: str, code: int = 0):
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return run


def _metrics(path) -> pl.DataFrame:
    with Warehouse(path, read_only=True) as wh:
        return wh.query("SELECT * FROM daily_package_metrics ORDER BY snapshot_date, package_id")


def test_sql_counts_days_times_packages(cli, history):
    out = cli("sql", "select count(*) as n from daily_package_metrics", "--format", "json")
    assert json.loads(out) == [{"n": DAYS * 240}]
    csv = cli(
        "sql",
        "select snapshot_date, count(*) as n from package_snapshots group by 1 order by 1",
        "--format",
        "csv",
    )
    assert csv.splitlines()[1:] == [f"{history[1] + timedelta(days=i)},240" for i in range(DAYS)]


def test_sql_is_read_only_and_errors_are_plain(cli):
    assert "read-only" in cli("sql", "delete from package_snapshots", code=1)
    assert "CatalogException" in cli("sql", "select * from no_such_table", code=1)


def test_named_queries_list_and_run_with_parameters(cli):
    listing = cli("query", "--list")
    for name in ("most_active_by_category", "biggest_movers", "popular_but_dormant"):
        assert name in listing
    rows = json.loads(cli("query", "most_active_by_category", "--param", "limit=2", "--format", "json"))
    assert rows and all(r["rank"] <= 2 for r in rows)
    per_category = {}
    for r in rows:
        per_category.setdefault(r["category"], []).append(r["activity_score"])
    assert all(scores == sorted(scores, reverse=True) for scores in per_category.values())
    movers = json.loads(cli("query", "biggest_movers", "--param", "days=2", "--format", "json"))
    assert all(m["change"] != 0 for m in movers)
    assert "no parameter 'bogus'" in cli("query", "biggest_movers", "--param", "bogus=1", code=1)
    assert "not a valid int" in cli("query", "biggest_movers", "--param", "days=x", code=1)
    assert "no query named" in cli("query", "nope", code=1)


def test_ingest_refuses_a_date_it_can_neither_capture_nor_recompute(cli, history):
    before = history[1] - timedelta(days=10)  # a partition, but nothing stored and no source to ask
    out = cli("ingest", "--date", str(before), code=1)
    assert f"no raw data is stored for {before}" in out and "cannot be reached" in out


def test_ingest_recomputes_a_stored_date_with_the_sources_down(cli, history):
    out = cli("ingest", "--date", str(history[1]))
    assert "recomputing from stored raw" in out and "240 packages scored" in out and "counts add up" in out


def test_rescore_with_every_source_down_gives_identical_rows(cli, history):
    path, first = history
    before = _metrics(path)
    out = cli("rescore", "--from", str(first), "--to", str(first + timedelta(days=DAYS - 1)))
    assert f"rescored {DAYS} dates" in out
    assert _metrics(path).equals(before)
    assert "unknown score version" in cli(
        "rescore", "--from", str(first), "--to", str(first), "--score-version", "x", code=1
    )


def test_explain_gives_components_reason_and_history(cli, history):
    out = cli("explain", "django-postpone-index", "--format", "table")
    with Warehouse(history[0], read_only=True) as wh:
        days = wh.query(
            "SELECT CAST(snapshot_date AS VARCHAR) AS day, activity_score, status, trend "
            "FROM daily_package_metrics WHERE package_id = 6278 ORDER BY snapshot_date"
        )
    last = days.row(-1, named=True)
    # Its status as a word of its own: "active in 2 of 13 four-week blocks" in the reason is not one.
    assert last["status"] == "slowing"
    lines = out.splitlines()
    assert lines[0] == f"Django Postpone Index (django-postpone-index, id 6278) on {last['day']}"
    assert (
        lines[1]
        == f"activity {last['activity_score']:.1f} (dpas-1.0): slowing, trend {last['trend']}, coverage full"
    )
    assert lines[2].startswith("last commit 15 weeks ago;")
    history_rows = [
        [cell.strip() for cell in line.strip("│ ").split("│")] for line in lines if line.startswith("│ 20")
    ]
    assert [(r[0], r[2], r[3]) for r in history_rows] == list(
        days.select("day", "status", "trend").iter_rows()
    )
    assert "no package 'nope'" in cli("explain", "nope", code=1)


def test_sql_writes_nested_columns_as_json_in_csv_and_cannot_touch_files(cli, tmp_path):
    out = cli(
        "sql",
        # A GitLab or Bitbucket package has no weekly array: the first with one.
        "select package_id, weeks from daily_package_metrics where weeks is not null order by 1 limit 1",
        "--format",
        "csv",
    )
    header, row = out.splitlines()[:2]
    assert header == "package_id,weeks"
    assert len(json.loads(row.split(",", 1)[1].strip('"').replace('""', '"'))) == 52
    target = tmp_path / "leak.csv"
    assert "PermissionException" in cli("sql", f"COPY (select 1) TO '{target}'", code=1)
    assert not target.exists()


def test_replay_serve_prints_its_url_serves_and_stops_cleanly():
    dpw = Path(sys.executable).parent / "dpw"
    proc = subprocess.Popen(
        [str(dpw), "replay", "serve", "--port", "0", "--date", "2026-06-01"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Replay server listening on http://127.0.0.1:") and "(date 2026-06-01)" in line
        base = line.split()[4]
        page = requests.get(f"{base}/api/v4/packages/?limit=5", timeout=10).json()
        assert page["count"] == 240 and len(page["results"]) == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
