"""`dpw query` and `dpw sql` with the catalog's headers and parquet files: what --list shows, and a result
written to parquet reads back as the frame it was."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from pipelines.cli import app
from warehouse import queries
from warehouse.store import Warehouse

DAY = date(2026, 5, 31)


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path) as wh:
        for package_id, status in ((1, "active"), (2, "inactive"), (3, "abandoned")):
            wh.conn.execute(
                "INSERT INTO daily_package_metrics (snapshot_date, package_id, stars, forks, weeks_source, "
                "score_version, status, trend, coverage, censored, weeks) "
                "VALUES (?, ?, 10, 0, 'none', 'dpas-1', ?, 'n/a', 'unknown', false, [1, NULL, 3])",
                [DAY, package_id, status],
            )
    return path


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def test_list_shows_each_query_s_title_description_parameters_columns_and_example():
    catalog = queries.available()
    rows = json.loads(run("query", "--list", "--format", "json").stdout)
    assert [(r["name"], r["title"], r["columns"], r["example"]) for r in rows] == [
        (q.name, q.title, list(q.columns), q.example) for q in catalog
    ]
    lines = run("query", "--list", "--format", "table").stdout.splitlines()
    movers = lines.index("biggest_movers: Biggest movers")
    assert lines[movers + 1 : movers + 7] == [
        "    Packages whose activity score moved most over the last N days (default 7) up to a date: the score "
        "on that date against the package's first score in the window.",
        "    --param date=<date>  end date (default: the latest) (default null)",
        "    --param days=<int>  window in days (default 7)",
        "    --param limit=<int>  how many packages (default 10)",
        "    columns: slug, score_before, score_now, change, stars_gained, trend",
        "    e.g. dpw query biggest_movers --param days=30 --param limit=20",
    ]


def test_a_query_s_rows_written_to_parquet_read_back_as_the_same_frame(small, tmp_path):
    named = queries.load("status_mix")
    with Warehouse(small, read_only=True) as wh:
        expected = wh.query(named.sql, named.bind({}))
    assert expected.height == 1
    out = tmp_path / "mix.parquet"
    result = run("query", "status_mix", "--format", "parquet", "--out", str(out), "--warehouse", str(small))
    assert result.stdout == ""
    assert_frame_equal(pl.read_parquet(out), expected)


def test_sql_writes_lists_nulls_and_dates_to_parquet_exactly(small, tmp_path):
    statement = "SELECT snapshot_date, package_id, status, weeks, activity_score FROM daily_package_metrics"
    with Warehouse(small, read_only=True) as wh:
        expected = wh.query(statement + " ORDER BY package_id")
    out = tmp_path / "rows.parquet"
    run("sql", statement + " ORDER BY package_id", "-f", "parquet", "-o", str(out), "--warehouse", str(small))
    back = pl.read_parquet(out)
    assert_frame_equal(back, expected)
    assert back.row(0) == (DAY, 1, "active", [1, None, 3], None)


@pytest.mark.parametrize("command", [("query", "status_mix"), ("sql", "SELECT 1"), ("query", "--list")])
def test_parquet_without_out_is_refused_in_one_line(small, command):
    result = run(*command, "--format", "parquet", "--warehouse", str(small), code=2)
    assert result.stdout == ""
    assert result.stderr == "error: --format parquet writes a file, not stdout: give --out FILE\n"


def test_out_writes_the_text_formats_to_a_file(small, tmp_path):
    out = tmp_path / "mix.csv"
    run("query", "status_mix", "--out", str(out), "--warehouse", str(small))
    assert out.read_text().splitlines() == [
        "snapshot_date,packages,active,slowing,stale,inactive,abandoned,unknown,dormant,share_dormant",
        "2026-05-31,3,1,0,0,1,1,0,2,0.667",
    ]
    bad = tmp_path / "no" / "such" / "dir.csv"
    assert run("sql", "SELECT 1", "--out", str(bad), "--warehouse", str(small), code=1).stderr.startswith(
        f"error: cannot write {bad}: "
    )
