"""GitLab and Bitbucket over real HTTP against the replay: state, scores, gone repositories and the budget."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import requests

from assets.sources.forges import BITBUCKET_ANONYMOUS_HOURLY
from pipelines.runner import run_date
from pipelines.settings import Settings
from replay.server import ReplayServer
from warehouse.store import Warehouse

_ASKED = "SELECT path FROM raw_requests WHERE snapshot_date = $d AND source = 'bitbucket'"


def _forges(wh: Warehouse, day) -> pl.DataFrame:
    return wh.query("SELECT * FROM forge_repository_snapshots WHERE snapshot_date = $d", {"d": day})


def _asked(wh: Warehouse, day) -> set[str]:
    """Paths the capture of ``day`` asked Bitbucket for: /2.0/repositories/{workspace}/{slug}."""
    return {p.removeprefix("/2.0/repositories/") for p in wh.query(_ASKED, {"d": day}).get_column("path")}


def test_gitlab_and_bitbucket_packages_get_a_state_and_a_recency_score_within_the_anonymous_budget(
    tmp_path: Path,
) -> None:
    with ReplayServer(synthetic=800, seed=3) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        assert settings.bitbucket_token is None
        day, next_day = server.date, server.date + timedelta(days=1)
        run_date(settings, day, "capture")
        server.set_date(next_day)
        server.reset_counts()  # the next day's capture starts a fresh hour
        run_date(settings, next_day, "capture")
        first_capture = {p.lower() for p in server.path_counts()["paths"] if p.startswith("/2.0/")}
        with Warehouse(settings.warehouse, read_only=True) as wh:
            second = _forges(wh, next_day)
        server.reset_counts()
        run_date(settings, next_day, "capture")  # the same date again
        second_capture = {p.lower() for p in server.path_counts()["paths"] if p.startswith("/2.0/")}
    with Warehouse(settings.warehouse, read_only=True) as wh:
        first = _forges(wh, day)
        asked_first = _asked(wh, day)
        scored = wh.query(
            "SELECT p.repo_host AS host, m.coverage, m.activity_score FROM daily_package_metrics m "
            "JOIN package_snapshots p ON p.snapshot_date = m.snapshot_date AND p.package_id = m.package_id "
            "WHERE p.repo_host IN ('gitlab', 'bitbucket')"
        )
        sources = wh.query(
            "SELECT snapshot_date, requests FROM ingest_run_sources WHERE source = 'bitbucket' ORDER BY ALL"
        )

    gitlab = first.filter(pl.col("host") == "gitlab")
    assert gitlab.height > 0 and set(gitlab.get_column("status")) == {"ok"}
    assert gitlab.get_column("last_activity_at").is_not_null().all()
    assert gitlab.get_column("stars").is_not_null().all()
    # Every package on either host is scored from its last activity, never as zero and never left unknown.
    assert set(scored.get_column("host")) == {"gitlab", "bitbucket"}
    assert set(scored.get_column("coverage")) == {"recency_only"}
    assert (scored.get_column("activity_score") > 0).all()

    bitbucket = first.filter(pl.col("host") == "bitbucket")
    linked = bitbucket.height
    assert linked > BITBUCKET_ANONYMOUS_HOURLY
    # Without a token: 60 requests, the rest recorded as deferred for a later day.
    assert len(asked_first) == BITBUCKET_ANONYMOUS_HOURLY
    counts = dict(bitbucket.group_by("status").len().iter_rows())
    assert counts["deferred"] == linked - BITBUCKET_ANONYMOUS_HOURLY
    assert counts["ok"] > 0 and counts["gone"] > 0  # a removed (Mercurial) repository is recorded as gone
    gone = set(bitbucket.filter(pl.col("status") == "gone").get_column("path"))
    never_asked = set(bitbucket.filter(pl.col("status") == "deferred").get_column("path"))

    # The next day (its first capture; the second replaced the date's requests): the gone ones are not asked again (30 days) but still recorded as gone, and the ones
    # never asked go first (stalest first).
    asked_second = {p.removeprefix("/2.0/repositories/") for p in first_capture}
    later = second.filter(pl.col("host") == "bitbucket")
    assert not gone & asked_second and never_asked <= asked_second
    assert gone <= set(later.filter(pl.col("status") == "gone").get_column("path"))
    assert set(later.filter(pl.col("path").is_in(list(gone))).get_column("asked_on")) == {day}
    carried = later.filter(pl.col("status") == "deferred")
    assert carried.height > 0 and set(carried.get_column("asked_on")) == {day}
    assert carried.get_column("last_activity_at").is_not_null().all()  # the state fetched the day before
    assert len(asked_second) == BITBUCKET_ANONYMOUS_HOURLY
    # Each run's ledger row: the two full days spent the hour, the second capture only what it asked.
    assert sorted(sources.get_column("requests")) == [len(second_capture), *[BITBUCKET_ANONYMOUS_HOURLY] * 2]

    # A date captured again asks no repository its first capture asked: each at most once a day.
    assert first_capture and second_capture and not first_capture & second_capture


def _one_clock_hour(seconds: float) -> None:
    """Wait for the next hour when fewer than ``seconds`` are left of this one: the replay's Bitbucket window
    is the wall clock's hour, and a test that straddles two would see a fresh budget mid-way."""
    now = time.time()
    left = 3600 - now % 3600
    if left < seconds:
        time.sleep(left + 1)


def test_an_anonymous_capture_keeps_inside_an_hour_an_earlier_caller_spent(tmp_path: Path) -> None:
    _one_clock_hour(300)
    with ReplayServer(synthetic=800, seed=3) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        day = server.date
        server.reset_counts()  # a fresh hour, 45 of whose requests someone else at this address spends
        with requests.Session() as session:
            for _ in range(45):
                session.get(f"{server.base_url}/2.0/repositories/someone/else", timeout=10)
        run_date(settings, day, "capture")
        run_date(settings, day, "capture")  # the same date again within the hour, now spent
        asked = server.request_counts()["bitbucket"]
    with Warehouse(settings.warehouse, read_only=True) as wh:
        runs = wh.query(
            "SELECT requests, failed FROM ingest_run_sources WHERE source = 'bitbucket' ORDER BY run_id"
        )
        forges = _forges(wh, day).filter(pl.col("host") == "bitbucket")
        refused = wh.query(f"{_ASKED} AND status = 429", {"d": day})

    # The first run asked what the headers said was left (15); the second learned from one 429 that
    # nothing was, and asked no more. Nothing of either is a failed repository: the rest is deferred.
    assert asked == 45 + 15 + 1
    assert sorted(runs.rows(), key=lambda r: r[0]) == [(1, 1), (15, 0)]
    assert refused.height == 1
    counts = dict(forges.group_by("status").len().iter_rows())
    assert "failed" not in counts
    assert counts["deferred"] == forges.height - 15
    assert forges.filter(pl.col("status") != "deferred").get_column("asked_on").to_list() == [day] * 15
