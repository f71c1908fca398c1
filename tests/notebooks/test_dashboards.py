"""The four dashboards: each notebook runs as a script on a warehouse the pipeline captured, and the reads
behind them (warehouse.dashboards) answer what the same questions asked of the warehouse directly answer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.dashboard import DASHBOARDS, notebook
from tests.conftest import ROOT
from warehouse import dashboards
from warehouse.contracts import DORMANT
from warehouse.store import Warehouse


def run_script(code: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """A notebook's code run as a plain script (a copy, so marimo leaves nothing beside the real one)."""
    script = tmp_path / "notebook.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "DPW_WAREHOUSE"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_notebook_runs_as_a_script(dashboard_history, tmp_path, name):
    proc = run_script(notebook(name).read_text(), tmp_path, "--warehouse", str(dashboard_history[0]))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_cell_that_raises_fails_the_script(dashboard_history, tmp_path):
    # What the test above relies on: an error in any cell fails the run.
    cell = (
        '@app.cell\ndef _(view):\n    raise RuntimeError(f"boom {view.end}")\n\n\nif __name__ == "__main__":'
    )
    code = notebook("overview").read_text().replace('if __name__ == "__main__":', cell)
    proc = run_script(code, tmp_path, "--warehouse", str(dashboard_history[0]))
    assert proc.returncode != 0 and f"boom {dashboard_history[1][-1]}" in proc.stderr


def test_no_missing_or_empty_warehouse_is_read(tmp_path):
    with pytest.raises(dashboards.Unavailable, match="dpw dashboard NAME"):
        dashboards.read_span(None)
    with pytest.raises(dashboards.Unavailable, match="No warehouse at .*python3 dev.py demo"):
        dashboards.read_span(tmp_path / "none.duckdb")
    Warehouse(tmp_path / "empty.duckdb").close()
    with pytest.raises(dashboards.Unavailable, match="no scored dates yet"):
        dashboards.overview(tmp_path / "empty.duckdb")
    # Each notebook stops at its first read with that message, and the script ends cleanly.
    for name in DASHBOARDS:
        proc = run_script(notebook(name).read_text(), tmp_path, "--warehouse", str(tmp_path / "empty.duckdb"))
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (name, proc.stderr)


def test_a_single_day_warehouse_shows_every_dashboard(dashboard_history, tmp_path):
    source, dates, _ = dashboard_history
    path = tmp_path / "one-day.duckdb"
    shutil.copy(source, path)
    with Warehouse(path) as wh:
        dated = wh.conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'snapshot_date' "
            "AND table_catalog = current_database() AND table_name IN (SELECT table_name FROM duckdb_tables())"
        ).fetchall()
        for (table,) in dated:
            wh.conn.execute(f'DELETE FROM "{table}" WHERE snapshot_date > ?', [dates[0]])
    view = dashboards.movers(path, days=7)
    assert view.span.dates == 1 and view.movers.is_empty()
    assert dashboards.history_note(view.span, 7) == (
        f"The warehouse holds one date ({dates[0]}): changes appear once a second date is captured."
    )
    assert dashboards.overview(path).status_mix["snapshot_date"].to_list() == [dates[0]]
    for name in DASHBOARDS:
        proc = run_script(notebook(name).read_text(), tmp_path, "--warehouse", str(path))
        assert proc.returncode == 0, (name, proc.stderr)


def test_a_warehouse_being_written_is_reported_not_raised(dashboard_history, monkeypatch):
    from warehouse import store

    monkeypatch.setattr(store, "READER_WAIT", 0.2)
    with Warehouse(dashboard_history[0]), pytest.raises(dashboards.Unavailable, match="being written"):
        dashboards.read_span(dashboard_history[0])


def sql(path: Path, query: str, params: dict | None = None) -> pl.DataFrame:
    with Warehouse(path, read_only=True) as wh:
        return wh.query(query, params)


def test_the_overview_counts_what_the_warehouse_holds(dashboard_history):
    path, dates, _ = dashboard_history
    view = dashboards.overview(path)
    assert (view.span.first, view.span.last, view.span.dates, view.span.packages) == (
        dates[0],
        dates[-1],
        3,
        100,
    )
    assert (view.start, view.end) == (dates[0], dates[-1])
    expected = sql(
        path,
        "SELECT snapshot_date, count(*) AS packages, count_if(status IN ('inactive', 'abandoned')) AS dormant "
        "FROM daily_package_metrics GROUP BY 1 ORDER BY 1",
    )
    assert view.status_mix.select("snapshot_date", "packages", "dormant").rows() == [
        (d, n, int(k)) for d, n, k in expected.rows()
    ]
    assert view.scores["packages"].sum() == 100
    scored = sql(
        path,
        "SELECT count(*) AS n FROM daily_package_metrics WHERE snapshot_date = $d AND activity_score IS NOT NULL",
        {"d": dates[-1]},
    )
    assert view.scores.filter(pl.col("band_start").is_not_null())["packages"].sum() == scored["n"][0]
    categories = sql(path, "SELECT count(DISTINCT category_id) AS n FROM package_snapshots")["n"][0]
    assert view.categories.height == categories * 3
    assert view.runs.height == 3 and set(view.runs["status"]) == {"ok"}
    # A range of one day: one row a day, whatever the history.
    one = dashboards.overview(path, start=dates[-1], end=dates[-1])
    assert one.status_mix["snapshot_date"].to_list() == [dates[-1]]


def test_a_category_ranks_its_own_packages_with_their_history(dashboard_history):
    path, dates, _ = dashboard_history
    view = dashboards.group(path, "category", "apps", days=30, limit=10)
    members = sql(
        path,
        "SELECT p.slug, m.activity_score FROM package_snapshots p JOIN daily_package_metrics m "
        "USING (snapshot_date, package_id) JOIN category_snapshots c USING (snapshot_date, category_id) "
        "WHERE snapshot_date = $d AND c.slug = 'apps' ORDER BY m.activity_score DESC NULLS LAST, p.slug",
        {"d": dates[-1]},
    )
    assert view.ranking["slug"].to_list() == members["slug"].head(10).to_list()
    assert view.ranking["rank"].to_list() == list(range(1, 11))
    top = view.ranking.row(0, named=True)
    assert [p["snapshot_date"] for p in top["history"]] == dates
    assert top["history"][-1]["activity_score"] == top["activity_score"]
    assert set(view.health["snapshot_date"]) == set(dates) and set(view.health["slug"]) == {"apps"}
    assert set(view.movers["slug"]) <= set(members["slug"])
    grid = dashboards.groups(path).filter(pl.col("kind") == "grid").row(0, named=True)
    in_grid = dashboards.group(path, "grid", grid["slug"])
    assert in_grid.ranking.height == grid["packages"]


def test_a_package_shows_its_history_commits_and_releases(dashboard_history):
    path, dates, _ = dashboard_history
    (package_id,) = sql(
        path,
        "SELECT package_id FROM daily_package_metrics WHERE snapshot_date = $d AND weeks IS NOT NULL "
        "ORDER BY stars DESC LIMIT 1",
        {"d": dates[-1]},
    ).row(0)
    view = dashboards.package(path, package_id)
    assert view.history["snapshot_date"].to_list() == dates
    assert view.history.columns[-4:] == ["recency", "consistency", "volume", "djangopackages_score"]
    weeks = sql(
        path,
        "SELECT week_start, commits FROM weekly_commits WHERE package_id = $p ORDER BY 1",
        {"p": package_id},
    )
    assert (
        view.weekly.select("week_start", "commits").rows()
        == weeks.filter(pl.col("week_start") > dates[-1] - timedelta(weeks=104)).rows()
    )
    uploads = view.releases["uploaded_at"].drop_nulls().to_list()
    assert uploads == sorted(uploads, reverse=True)
    found = dashboards.search(path, view.history["slug"][-1])
    assert found["package_id"][0] == package_id


def test_movers_share_the_catalog_s_definitions(dashboard_history):
    path, dates, _ = dashboard_history
    view = dashboards.movers(path, days=7, min_stars=100)
    changes = sql(
        path,
        "SELECT score_7d FROM package_deltas WHERE snapshot_date = $d AND score_7d <> 0",
        {"d": dates[-1]},
    )
    # Ten of each direction, at most.
    rises = (changes["score_7d"] > 0).sum()
    assert view.movers.height == min(10, rises) + min(10, changes.height - rises) > 0
    assert set(view.popular_dormant["status"]) <= set(DORMANT) and view.popular_dormant.height > 0
    assert (view.popular_dormant["stars"] >= 100).all()
    with pytest.raises(ValueError, match="days must be one of"):
        dashboards.movers(path, days=14)


def test_history_notes_say_when_a_change_cannot_be_shown_yet():
    one = dashboards.Span(date(2026, 6, 1), date(2026, 6, 1), 1, 10)
    assert "one date (2026-06-01)" in dashboards.history_note(one, 7)
    short = dashboards.Span(date(2026, 6, 1), date(2026, 6, 5), 5, 10)
    assert "No change over 7 days yet" in dashboards.history_note(short, 7)
    long = dashboards.Span(date(2026, 5, 1), date(2026, 6, 5), 30, 10)
    assert dashboards.history_note(long, 30) is None


def test_freshness_says_how_old_the_last_run_is():
    now = datetime(2026, 6, 2, 12, tzinfo=UTC)
    runs = pl.DataFrame(
        {
            "snapshot_date": [date(2026, 6, 2)],
            "mode": ["capture"],
            "status": ["ok"],
            "started_at": [now - timedelta(hours=3)],
            "seconds": [600.0],
            "records_rejected": [4],
            "guards_warn": [1],
            "guards_fail": [0],
        }
    )
    assert dashboards.freshness(runs, now) == (
        "Last run: capture of 2026-06-02, ok, finished 2.8 hours ago (4 records rejected, 1 guards warned, 0 failed)."
    )
    assert dashboards.freshness(runs.clear(), now) == "No run recorded yet."
