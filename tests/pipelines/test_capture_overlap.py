"""One capture, over real HTTP against the replay: GitHub and PyPI asked at the same time, the sources' date asked
once, and a source whose fetch fails costing only itself."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
from typer.testing import CliRunner

from assets import ALL_ASSETS
from assets.sources.github import GitHubClient
from pipelines.cli import app
from pipelines.definitions import resources
from pipelines.runner import IngestRefused, run_date
from pipelines.settings import REPLAY_TOKEN, Settings
from replay.server import ReplayServer
from warehouse import staging
from warehouse.store import Warehouse

DATE_PATH = "/api/v4/"  # the djangopackages API root, whose Date header tells the sources' date


def _spans(wh: Warehouse, day) -> dict[str, tuple]:
    """Per source, when its first request started and its last one ended."""
    rows = wh.query(
        "SELECT source, min(started_at) AS first, "
        "max(started_at + to_microseconds(CAST(elapsed_ms * 1000 AS BIGINT))) AS last "
        "FROM raw_requests WHERE snapshot_date = $d GROUP BY source",
        {"d": day},
    )
    return {source: (first, last) for source, first, last in rows.iter_rows()}


def test_github_and_pypi_are_asked_at_the_same_time(tmp_path) -> None:
    with ReplayServer(synthetic=300, seed=5, latency_ms=20) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        run_date(settings, server.date, "capture")
        with Warehouse(settings.warehouse, read_only=True) as wh:
            spans = _spans(wh, server.date)
    github, pypi, bitbucket = spans["github"], spans["pypi"], spans["bitbucket"]
    # Each took far longer than a request (GitHub's are serial, 20 ms each at least) and the spans overlap:
    # either service started before the other ended.
    assert github[1] - github[0] > timedelta(milliseconds=200)
    assert pypi[1] - pypi[0] > timedelta(milliseconds=200)
    assert github[0] < pypi[1] and pypi[0] < github[1]
    assert bitbucket[0] < github[1] and bitbucket[0] < pypi[1]  # the forges are not left for after either
    # Both started after the catalogue they depend on was read.
    assert spans["djangopackages"][1] <= min(github[0], pypi[0])


def test_ingest_asks_the_sources_date_once_a_run(tmp_path, monkeypatch) -> None:
    warehouse = tmp_path / "w.duckdb"
    with ReplayServer(synthetic=60, seed=5) as server:
        for variable in ("DJANGOPACKAGES", "GITHUB", "PYPI", "GITLAB", "BITBUCKET"):
            monkeypatch.setenv(f"DPW_{variable}_URL", server.base_url)
        monkeypatch.setenv("GITHUB_TOKEN", REPLAY_TOKEN)
        server.reset_counts()
        result = CliRunner().invoke(
            app, ["ingest", "--date", server.date.isoformat(), "--warehouse", str(warehouse)]
        )
        assert result.exit_code == 0, result.output
        assert "capturing" in result.output
        assert server.path_counts()["paths"].get(DATE_PATH) == 1

        # A run started without the runner's answer (the schedule, the UI) asks it itself, once.
        server.set_date(server.date + timedelta(days=1))
        server.reset_counts()
        settings = Settings().with_replay(server.base_url).with_warehouse(warehouse)
        run_date(settings, server.date, "capture")
        assert server.path_counts()["paths"].get(DATE_PATH) == 1

        # Recomputing a stored date asks nothing at all.
        server.reset_counts()
        run_date(settings, server.date, "recompute")
        assert sum(server.request_counts().values()) == 0


def test_a_failing_github_fetch_still_stores_pypi_and_the_github_requests(tmp_path, monkeypatch) -> None:
    def broken(self, full_names, etags=None):
        raise RuntimeError("participation broke")

    # GitHub's GraphQL batches are asked (and logged), then its fetch fails as a whole.
    monkeypatch.setattr(GitHubClient, "participation", broken)
    with ReplayServer(synthetic=60, seed=5) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        with pytest.raises(
            IngestRefused, match=r"raw_github failed: participation broke \(raw_pypi, raw_forges stored\)"
        ):
            run_date(settings, server.date, "capture")
        day = server.date
    [kept] = staging.kept(settings.warehouse, day)
    with Warehouse(kept, read_only=True) as wh:
        raw = wh.query(
            "SELECT source, count(*) AS n FROM raw_records WHERE snapshot_date = $d GROUP BY source",
            {"d": day},
        )
        requests = wh.query(
            "SELECT asset, source, count(*) AS n FROM raw_requests WHERE snapshot_date = $d GROUP BY ALL",
            {"d": day},
        )
    stored = dict(raw.iter_rows())
    assert stored["pypi/project"] > 0 and stored["bitbucket/repository"] > 0
    assert "github/repository" not in stored
    asked = {(a, s): n for a, s, n in requests.iter_rows()}
    assert asked[("raw_github", "github")] >= 1  # the GraphQL batches made before it broke
    assert asked[("raw_pypi", "pypi")] == stored["pypi/project"]
    with Warehouse(settings.warehouse, read_only=True) as wh:
        ledger = wh.query("SELECT status, message FROM ingest_runs WHERE snapshot_date = $d", {"d": day})
    assert ledger.get_column("status").to_list() == ["failed"]
    assert "raw_github failed: participation broke" in ledger.item(0, "message")


def test_one_enrichment_asset_materializes_alone(tmp_path) -> None:
    """In the UI a person may materialize raw_pypi alone: the step fetches only what is selected."""
    with ReplayServer(synthetic=60, seed=5) as server:
        settings = Settings().with_replay(server.base_url).with_warehouse(tmp_path / "w.duckdb")
        server.reset_counts()
        result = dg.materialize(
            ALL_ASSETS,
            selection=["raw_djangopackages", "raw_pypi"],
            partition_key=server.date.isoformat(),
            resources=resources(settings),
        )
        asked = server.request_counts()
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {
        "raw_djangopackages",
        "raw_pypi",
    }
    assert asked["pypi"] > 0 and asked["github"] == asked["gitlab"] == asked["bitbucket"] == 0
