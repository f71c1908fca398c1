"""A busy analyst and a killed process: neither may cost a captured day or leave half of one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bench.readers import attempts, start_readers
from pipelines.runner import plan, run_date
from pipelines.settings import REPLAY_TOKEN, Settings
from replay.server import ReplayServer
from tests.conftest import SAMPLE_BUNDLE
from warehouse.staging import PUBLISHED_TABLES
from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parents[2]
DPW = Path(sys.executable).with_name("dpw")


def test_readers_holding_the_file_never_fail_a_capture(tmp_path):
    # Two analysts in their own processes, each holding the file 2-4 s at a time, again and again.
    path = tmp_path / "w.duckdb"
    Warehouse(path).close()  # the readers need a file to open
    readers = start_readers(path, tmp_path, 2, (2.0, 4.0))
    try:
        with ReplayServer(synthetic=5300) as server:
            settings = Settings().with_replay(server.base_url).with_warehouse(path)
            time.sleep(3)  # both readers are in their loops before the capture starts
            result = run_date(settings, server.date, "capture")
    finally:
        (tmp_path / "stop").touch()
        for reader in readers:
            reader.wait(timeout=30)
    assert result.summary["status"] == "ok"
    assert result.summary["packages_scored"] + result.summary["records_rejected"] >= 5300
    tries = attempts(tmp_path)
    assert len(tries) >= 6
    assert all(t["seconds"] < 15 for t in tries), max(t["seconds"] for t in tries)
    refused = [t for t in tries if not t["ok"]]
    assert all("being written" in t["error"] and "\n" not in t["error"] for t in refused)
    # Readers saw the warehouse before and after the date was published.
    assert {t["runs"] for t in tries if t["ok"]} >= {0, 1}


def _published(path: Path) -> dict[str, tuple]:
    with Warehouse(path, read_only=True) as wh:
        return {
            table: wh.row(
                f"SELECT count(*), md5(coalesce(string_agg(t::VARCHAR, chr(10) ORDER BY t::VARCHAR), '')) "
                f"FROM {table} AS t"
            )
            for table in PUBLISHED_TABLES
        }


@pytest.mark.parametrize("after", [3.0, 6.0, 8.0, 10.0])
def test_a_run_killed_at_any_moment_leaves_the_date_as_before_or_whole(tmp_path, after):
    path = tmp_path / "w.duckdb"
    with ReplayServer(SAMPLE_BUNDLE) as server:
        first = server.date + timedelta(days=1)
        server.set_date(first)
        settings = Settings().with_replay(server.base_url).with_warehouse(path)
        run_date(settings, first, "capture")
        before = _published(path)
        day = first + timedelta(days=1)
        server.set_date(day)
        env = {
            **os.environ,
            "DPW_DJANGOPACKAGES_URL": server.base_url,
            "DPW_GITHUB_URL": server.base_url,
            "GITHUB_TOKEN": REPLAY_TOKEN,  # the replay's GraphQL, like GitHub's, answers no one without
            "DPW_PYPI_URL": server.base_url,
            "DPW_GITLAB_URL": server.base_url,
            "DPW_BITBUCKET_URL": server.base_url,
            "DPW_WAREHOUSE": str(path),
        }
        run = subprocess.Popen([DPW, "ingest", "--date", day.isoformat()], env=env, cwd=tmp_path)
        time.sleep(after)
        run.send_signal(signal.SIGKILL)
        run.wait()
        after_kill = _published(path)
        with Warehouse(path, read_only=True) as wh:
            ledger = wh.query(
                "SELECT status FROM ingest_runs WHERE snapshot_date = $d", {"d": day}
            ).get_column("status")
        if ledger.to_list() == ["ok"]:
            # Killed after publishing: the whole date is there, and only it changed.
            assert all(after_kill[t][0] > before[t][0] for t in ("raw_records", "daily_package_metrics"))
        else:
            assert after_kill == before
            assert ledger.to_list() in ([], ["started"])
        # The next run of the date completes as if nothing had happened.
        assert run_date(settings, day, plan(settings, day)).summary["status"] == "ok"
    with Warehouse(path, read_only=True) as wh:
        per_day = wh.query(
            "SELECT snapshot_date, count(*) AS n FROM daily_package_metrics GROUP BY 1 ORDER BY 1"
        ).rows()
    assert per_day == [(first, 240), (day, 240)]


def test_ctrl_c_stops_a_run_with_one_line_and_exit_130(tmp_path):
    path = tmp_path / "w.duckdb"
    with ReplayServer(SAMPLE_BUNDLE) as server:
        day = server.date + timedelta(days=1)
        server.set_date(day)
        # Slow answers keep the run busy long enough to interrupt it mid-capture.
        server.set_faults([{"path": "/graphql", "delay": 3.0, "times": 100}])
        env = {
            **os.environ,
            "DPW_DJANGOPACKAGES_URL": server.base_url,
            "DPW_GITHUB_URL": server.base_url,
            "GITHUB_TOKEN": REPLAY_TOKEN,  # the replay's GraphQL, like GitHub's, answers no one without
            "DPW_PYPI_URL": server.base_url,
            "DPW_GITLAB_URL": server.base_url,
            "DPW_BITBUCKET_URL": server.base_url,
            "DPW_WAREHOUSE": str(path),
        }
        run = subprocess.Popen(
            [DPW, "ingest", "--date", day.isoformat()],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while server.request_counts()["github"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert stderr.strip().splitlines() == ["interrupted"]
    with Warehouse(path, read_only=True) as wh:
        assert wh.row("SELECT count(*) FROM daily_package_metrics")[0] == 0
        assert wh.query("SELECT status FROM ingest_runs").get_column("status").to_list() == ["interrupted"]
