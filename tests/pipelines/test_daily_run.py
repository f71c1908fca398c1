"""The daily run end to end: real Dagster runs over real HTTP against the replay server into a real DuckDB file."""

import gzip
import json
import subprocess
import sys
from datetime import timedelta

import dagster as dg
import polars as pl
import pytest
from dagster._serdes import serialize_value
from typer.testing import CliRunner

from assets import ALL_ASSETS
from pipelines.cli import app
from pipelines.definitions import resources
from pipelines.runner import IngestRefused, kept_capture, plan, run_date
from pipelines.settings import Settings
from replay.server import ReplayServer
from tests.conftest import sample_packages
from warehouse.staging import PUBLISHED_TABLES
from warehouse.store import Warehouse

# Tables whose rows must be identical when a date is run again: all a run publishes but its request log.
DATA_TABLES = [t for t in PUBLISHED_TABLES if t != "raw_requests"]


def _dump(settings: Settings) -> dict[str, pl.DataFrame]:
    with Warehouse(settings.warehouse, read_only=True) as wh:
        frames = {t: wh.query(f"SELECT * FROM {t}") for t in DATA_TABLES}
    return {
        t: f.sort([c for c, dtype in f.schema.items() if not dtype.is_nested()]) for t, f in frames.items()
    }


def grid_links(records: list[dict]) -> int:
    """(grid, package) pairs the package records link, counted from the records themselves: the bundle's
    one grid record lists none of the sample packages, so these are every membership of the day."""
    return len({(link.split("?")[0].rstrip("/"), r["id"]) for r in records for link in r["grids"]})


def test_one_materialize_against_the_replay_server(settings, replay):
    day = replay.date
    result = dg.materialize(ALL_ASSETS, partition_key=day.isoformat(), resources=resources(settings))
    assert result.success
    with Warehouse(settings.warehouse, read_only=True) as wh:
        counts = {
            t: wh.query(f"SELECT count(*) AS n FROM {t}").item()
            for t in (
                "package_snapshots",
                "daily_package_metrics",
                "rejected_records",
                "grid_package_snapshots",
            )
        }
        assert counts == {
            "package_snapshots": 240,
            "daily_package_metrics": 240,
            "rejected_records": 0,
            "grid_package_snapshots": grid_links(sample_packages()),
        }
        row = wh.query(
            "SELECT p.slug, p.category_id, m.stars, m.weeks_source, m.score_version, m.activity_score, m.coverage "
            "FROM daily_package_metrics m JOIN package_snapshots p USING (snapshot_date, package_id) "
            "WHERE package_id = 6278"
        ).row(0, named=True)
        assert row["slug"] == "django-postpone-index" and row["category_id"] == 1
        assert row["stars"] == 2 and row["score_version"] == "dpas-1.0" and row["coverage"] == "full"
        assert 0 < row["activity_score"] <= 100
        # `[]` arrays are unknown: no score, never zero
        unknown = wh.query(
            "SELECT count(*) AS n FROM daily_package_metrics WHERE activity_score IS NULL"
        ).item()
        assert (
            unknown
            == wh.query("SELECT count(*) AS n FROM daily_package_metrics WHERE coverage = 'unknown'").item()
        )
        run = wh.query("SELECT * FROM ingest_runs").row(0, named=True)
        assert run["status"] == "ok" and run["mode"] == "capture"
        assert run["records_rejected"] == 0 and run["packages_scored"] == 240
        assert run["requests_djangopackages"] >= 3 and run["requests_github"] >= 3
        assert run["records_fetched"] == run["records_accepted"] + run["records_rejected"]
        assert wh.query("SELECT count(*) AS n FROM categories").item() >= 1
        assert wh.query("SELECT count(*) AS n FROM releases").item() > 0


def test_running_a_date_twice_leaves_every_table_identical(settings, replay):
    day = replay.date
    first = run_date(settings, day, plan(settings, day))
    before = _dump(settings)
    second = run_date(settings, day, plan(settings, day))
    after = _dump(settings)
    assert first.mode == second.mode == "capture"
    for table in DATA_TABLES:
        assert before[table].equals(after[table]), table
    assert before["package_snapshots"].height == 240
    with Warehouse(settings.warehouse, read_only=True) as wh:
        assert wh.query("SELECT count(*) AS n FROM ingest_runs").item() == 2


def test_a_past_date_is_recomputed_from_raw_and_an_unstored_one_refused(settings, replay):
    day = replay.date
    run_date(settings, day, "capture")
    captured = _dump(settings)
    replay.set_date(day + timedelta(days=1))
    assert plan(settings, day) == "recompute"
    replay.reset_counts()
    result = run_date(settings, day, "recompute")
    assert sum(replay.request_counts().values()) == 0  # not a single request
    assert result.summary["mode"] == "recompute" and result.summary["requests_github"] == 0
    recomputed = _dump(settings)
    for table in DATA_TABLES:
        assert captured[table].equals(recomputed[table]), table
    with pytest.raises(IngestRefused, match="can only be captured on that date"):
        plan(settings, day - timedelta(days=3))


def test_bad_records_are_rejected_odd_ones_repaired_the_rest_land(tmp_path):
    records = sample_packages()[:30]
    records[0] = {**records[0], "id": "abc"}
    records[1] = {**records[1], "repo_watchers": "many"}
    records[2] = {**records[2], "commits_over_52": records[2]["commits_over_52"][:51]}
    records[3] = {**records[3], "commits_over_52": ",".join(str(c) for c in records[3]["commits_over_52"])}
    records[4] = {**records[4], "commits_over_52": [-1] + records[4]["commits_over_52"][1:]}
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    with gzip.open(bundle / "packages.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)
    with ReplayServer(bundle, port=0) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        result = run_date(settings, server.date, "capture")
    assert result.summary["records_rejected"] == 2
    assert result.summary["records_repaired"] == 3
    assert result.summary["status"] == "ok"
    with Warehouse(settings.warehouse, read_only=True) as wh:
        rejected = wh.query(
            "SELECT record_key, fields, reasons FROM rejected_records ORDER BY record_key"
        ).rows()
        assert rejected == [
            (str(records[1]["id"]), ["repo_watchers"], "repo_watchers: not an integer (many)"),
            ("abc", ["id"], "id: not an integer (abc)"),
        ]
        assert wh.query("SELECT count(*) AS n FROM daily_package_metrics").item() == 28
        repaired = wh.query(
            "SELECT package_id, commits_over_52[1] AS oldest, repairs FROM package_snapshots "
            "WHERE len(repairs) > 0 ORDER BY package_id"
        )
        assert sorted(repaired.get_column("package_id")) == sorted(r["id"] for r in records[2:5])
        short = repaired.filter(pl.col("package_id") == records[2]["id"]).row(0, named=True)
        assert short["oldest"] is None  # the missing week is unknown, not zero


def test_a_warm_day_asks_pypi_only_for_projects_whose_serial_moved(settings, replay):
    first = replay.date
    run_date(settings, first, "capture")
    replay.set_date(first + timedelta(days=1))
    run_date(settings, replay.date, "capture")
    with Warehouse(settings.warehouse, read_only=True) as wh:
        per_day = wh.query(
            "SELECT snapshot_date, count(*) FILTER (status = 'unchanged') AS unchanged, count(*) AS projects "
            "FROM raw_records WHERE source = 'pypi/project' GROUP BY 1 ORDER BY 1"
        ).rows()
        requests = wh.query(
            "SELECT snapshot_date, count(*) FILTER (path LIKE '/pypi/%') AS documents, "
            "count(*) FILTER (path = '/simple/') AS index FROM raw_requests WHERE source = 'pypi' GROUP BY 1 ORDER BY 1"
        ).rows()
        parsed = wh.query(
            "SELECT snapshot_date, count(*) FILTER (status = 'ok') FROM pypi_projects GROUP BY 1 ORDER BY 1"
        ).rows()
    (d1, unchanged1, projects1), (d2, unchanged2, projects2) = per_day
    assert unchanged1 == 0 and projects1 == projects2 > 150
    assert unchanged2 >= projects2 - 10  # only the few projects that released were fetched again
    assert requests == [(d1, projects1, 0), (d2, projects2 - unchanged2, 1)]
    assert parsed[0][1] == parsed[1][1]  # every project still has its document on the warm day


def test_the_github_token_reaches_github_but_never_dagster_storage(settings, replay, tmp_path, monkeypatch):
    token = "ghp_test_token_that_must_not_be_stored"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    settings = Settings(**{**settings.__dict__, "github_token": token})
    storage = tmp_path / "dagster"
    storage.mkdir()
    # A persistent instance, as `dg dev` uses under DAGSTER_HOME; its snapshots are stored compressed, so
    # they are read back through the instance rather than grepped from the files.
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        result = run_date(settings, replay.date, "capture", dagster_instance=instance)
        run = instance.get_run_by_id(result.run_id)
        stored = serialize_value(instance.get_job_snapshot(run.job_snapshot_id)) + serialize_value(run)
    assert "github" in stored and token not in stored
    with Warehouse(settings.warehouse, read_only=True) as wh:
        paths = wh.query("SELECT path FROM raw_requests").get_column("path").to_list()
        assert wh.query("SELECT count(*) AS n FROM raw_requests WHERE source = 'github'").item() > 0
    assert not any(token in p for p in paths)


def test_a_refused_capture_of_a_past_date_leaves_its_request_log_alone(settings, replay):
    day = replay.date
    run_date(settings, day, "capture")
    with Warehouse(settings.warehouse, read_only=True) as wh:
        before = wh.query("SELECT * FROM raw_requests ORDER BY started_at, path")
    replay.set_date(day + timedelta(days=1))
    with pytest.raises(IngestRefused, match="cannot capture raw data"):
        run_date(settings, day, "capture")
    with Warehouse(settings.warehouse, read_only=True) as wh:
        assert wh.query("SELECT * FROM raw_requests ORDER BY started_at, path").equals(before)
        runs = wh.query("SELECT status FROM ingest_runs ORDER BY started_at").get_column("status").to_list()
    assert runs == ["ok", "failed"]  # the ledger keeps the failed run too


def test_weekly_commits_do_not_depend_on_the_readers_time_zone(settings, replay):
    run_date(settings, replay.date, "capture")
    with Warehouse(settings.warehouse, read_only=True) as wh:
        utc = wh.query("SELECT * FROM weekly_commits ORDER BY package_id, week_start")
        wh.conn.execute("SET TimeZone = 'Asia/Tokyo'")
        tokyo = wh.query("SELECT * FROM weekly_commits ORDER BY package_id, week_start")
    assert utc.height > 240 * 40 and utc.equals(tokyo)
    assert set(utc.get_column("week_start").dt.weekday().unique()) == {1}  # Mondays


HOLD = """
import sys
from warehouse.store import Warehouse
with Warehouse(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.read()  # until the test lets go
"""


def test_a_capture_the_warehouse_is_too_busy_to_take_is_kept_and_published_later(
    settings, replay, monkeypatch
):
    """Another process holds the file past the run's patience: the run fails saying so, and the next
    `dpw ingest` of the date publishes what it fetched, with no request, instead of fetching the day
    again."""
    day = replay.date
    Warehouse(settings.warehouse).close()
    for patience in (
        "warehouse.store.WRITER_WAIT",
        "warehouse.store.READER_WAIT",
        "assets.staging.STARTED_ROW_WAIT",
    ):
        monkeypatch.setattr(patience, 1.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(IngestRefused) as failed:
            run_date(settings, day, "capture")
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    message = str(failed.value)
    assert f"ingest_runs: {settings.warehouse} is being written by another process" in message
    assert "\n" not in message
    assert kept_capture(settings, day) is not None
    replay.reset_counts()
    assert plan(settings, day) == "recompute"  # not a new capture, though the day is still today
    result = run_date(settings, day, "recompute")
    assert sum(replay.request_counts().values()) == 0
    assert result.summary["status"] == "ok" and result.summary["packages_scored"] == 240
    assert kept_capture(settings, day) is None


def test_a_list_that_cannot_be_read_keeps_the_others_and_refuses_the_day_naming_it(settings, replay):
    replay.set_faults([{"path": "^/api/v4/grids/", "status": 500, "times": 50}])
    try:
        with pytest.raises(IngestRefused) as refused:
            run_date(settings, replay.date, "capture")
    finally:
        replay.set_faults([])
    assert "guard invalid_page failed" in str(refused.value)
    assert "/api/v4/grids/?limit=1000&offset=0" in str(refused.value)
    assert kept_capture(settings, replay.date) is not None  # the packages and categories read are kept


def test_without_a_github_token_the_run_says_so_skips_github_and_records_it(settings, replay, monkeypatch):
    for name in ("DPW_DJANGOPACKAGES_URL", "DPW_PYPI_URL", "DPW_GITLAB_URL", "DPW_BITBUCKET_URL"):
        monkeypatch.setenv(name, replay.base_url)
    monkeypatch.setenv("DPW_GITHUB_URL", replay.base_url)
    monkeypatch.setenv("DPW_WAREHOUSE", str(settings.warehouse))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    replay.reset_counts()
    result = CliRunner().invoke(app, ["ingest", "--date", replay.date.isoformat()])
    assert result.exit_code == 0, result.output
    assert "GITHUB_TOKEN is not set: the GitHub phase is skipped" in result.output
    assert replay.request_counts()["github"] == 0
    with Warehouse(settings.warehouse, read_only=True) as wh:
        sources = wh.query("SELECT source, status, requests, message FROM ingest_run_sources ORDER BY source")
        scored = wh.query("SELECT count(activity_score) AS n, count(*) AS total FROM daily_package_metrics")
    assert sources.select("source", "status").rows() == [
        ("bitbucket", "asked"),
        ("djangopackages", "asked"),
        ("github", "skipped"),
        ("gitlab", "asked"),
        ("pypi", "asked"),
    ]
    github = sources.row(2, named=True)
    assert github["requests"] == 0 and "GraphQL API answers no one without a token" in github["message"]
    # Scores rest on djangopackages' own weekly arrays and last commit dates.
    assert scored.item(0, "n") > 0.9 * scored.item(0, "total")


def test_participation_is_not_asked_again_for_a_pending_repository_whose_push_date_did_not_move(tmp_path):
    # Synthetic packages include repositories GitHub never computes statistics for (202 every time).
    with ReplayServer(synthetic=400, seed=3) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        day, next_day = server.date, server.date + timedelta(days=1)
        run_date(settings, day, "capture")
        server.set_date(next_day)
        server.reset_counts()
        run_date(settings, next_day, "capture")
        asked = {p.lower() for p in server.path_counts()["paths"] if p.endswith("/stats/participation")}
    with Warehouse(settings.warehouse, read_only=True) as wh:
        pending = wh.query(
            "SELECT t.full_name, t.pushed_at = y.pushed_at AS same_push, t.participation_status AS today "
            "FROM repository_snapshots y JOIN repository_snapshots t ON t.full_name = y.full_name "
            "AND t.snapshot_date = $next WHERE y.snapshot_date = $day AND y.participation_status = 'pending'",
            {"day": day, "next": next_day},
        )
    assert pending.height > 0 and pending.get_column("same_push").all()
    assert not asked & {f"/repos/{name}/stats/participation" for name in pending.get_column("full_name")}
    assert pending.get_column("today").null_count() == pending.height  # not asked, so no answer today


def test_a_repository_not_asked_again_is_scored_from_the_participation_fetched_earlier(settings, replay):
    day = replay.date
    run_date(settings, day, "capture")
    # The replay's djangopackages fetches after every push, so no repository's participation is due: as if
    # GitHub had answered on ``day``, store an array and its ETag for some repositories.
    weeks = [0] * 50 + [3, 4]
    with Warehouse(settings.warehouse) as wh:
        wh.conn.execute(
            "UPDATE repository_snapshots SET participation_status = 'ok', participation = $w, "
            "participation_etag = '\"e1\"', participation_fetched_on = snapshot_date "
            "WHERE status = 'ok' AND hash(full_name) % 4 = 0",
            {"w": weeks},
        )
    replay.set_date(day + timedelta(days=1))
    run_date(settings, replay.date, "capture")
    with Warehouse(settings.warehouse, read_only=True) as wh:
        carried = wh.query(
            "SELECT t.participation_status AS status, t.participation AS weeks, t.participation_etag AS etag, "
            "t.participation_fetched_on AS fetched_on, m.weeks_source, m.weeks_anchor_at, m.activity_score "
            "FROM repository_snapshots t "
            "JOIN repository_snapshots y ON y.full_name = t.full_name AND y.snapshot_date = $day "
            "JOIN package_snapshots p ON p.repo_full_name = t.full_name AND p.snapshot_date = t.snapshot_date "
            "JOIN daily_package_metrics m ON m.snapshot_date = p.snapshot_date AND m.package_id = p.package_id "
            "WHERE t.snapshot_date = $next AND y.participation_status = 'ok'",
            {"day": day, "next": replay.date},
        )
        requests = wh.query("SELECT count(*) AS n FROM raw_requests WHERE path LIKE '%/stats/participation'")
    assert carried.height > 20 and requests.item() == 0  # none was asked again
    assert set(carried.get_column("status")) == {"unchanged"} and set(carried.get_column("etag")) == {'"e1"'}
    assert all(w == weeks for w in carried.get_column("weeks").to_list())
    assert set(carried.get_column("fetched_on")) == {day}
    # Scored from the array fetched earlier, ending on the day it was fetched, not from djangopackages'.
    assert set(carried.get_column("weeks_source")) == {"github"}
    assert {a.date() for a in carried.get_column("weeks_anchor_at")} == {day}
    assert carried.get_column("activity_score").is_not_null().all()
