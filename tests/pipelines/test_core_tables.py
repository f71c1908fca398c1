"""The core tables' step: every selected source parsed at the same time, each staged on its own."""

import time

import dagster as dg
import pytest

from assets import ALL_ASSETS
from assets.core import CORE_SOURCES, core_tables
from pipelines.definitions import resources
from pipelines.runner import run_date
from warehouse import enrichment, staging
from warehouse.store import Warehouse

SOURCE_TABLES = {name: set(source.tables) for name, source in CORE_SOURCES.items()}


def staged_rows(settings, day, run_id: str) -> dict[str, int]:
    """Rows of ``day`` in each core table of the run's staging file (which a run that did not publish keeps)."""
    with Warehouse(staging.staging_file(settings.warehouse, day, run_id), read_only=True) as wh:
        return {
            table: wh.row(f'SELECT count(*) FROM "{table}" WHERE snapshot_date = ?', [day])[0]
            for tables in SOURCE_TABLES.values()
            for table in tables
            if table != "rejected_records"
        }


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


@pytest.fixture
def captured(settings, replay):
    run_date(settings, replay.date, "capture")
    return replay.date


def test_sources_whose_parsing_fails_cost_only_themselves(settings, captured, monkeypatch):
    def broken(what, after=0.0):
        def parse(*args, **kwargs):
            time.sleep(after)
            raise ValueError(f"the {what} parser broke")

        return parse

    # PyPI fails last; the message names the failures in the sources' order all the same.
    monkeypatch.setattr(enrichment, "parse_repositories", broken("repository"))
    monkeypatch.setattr(enrichment, "parse_pypi", broken("PyPI", after=0.5))
    result = dg.materialize(
        ALL_ASSETS,
        selection=[core_tables],
        partition_key=captured.isoformat(),
        resources=resources(settings),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert failure is not None
    assert (
        failure.description
        == "pypi failed: the PyPI parser broke; github failed: the repository parser broke"
    )
    assert materialized(result) == SOURCE_TABLES["djangopackages"] | SOURCE_TABLES["forges"]
    rows = staged_rows(settings, captured, result.run_id)
    assert rows["repository_snapshots"] == rows["pypi_projects"] == rows["release_snapshots"] == 0
    assert rows["package_snapshots"] == 240 and rows["forge_repository_snapshots"] > 0


def test_materializing_one_table_parses_and_stages_only_its_source(settings, captured, monkeypatch):
    parsed = []
    original = enrichment.parse_pypi
    monkeypatch.setattr(enrichment, "parse_pypi", lambda *a: parsed.append("pypi") or original(*a))
    result = dg.materialize(
        ALL_ASSETS,
        selection=["repository_snapshots"],
        partition_key=captured.isoformat(),
        resources=resources(settings),
    )
    assert materialized(result) == {"repository_snapshots"}
    checks = result.get_asset_check_evaluations()
    assert [(c.asset_key.to_user_string(), c.passed) for c in checks] == [("repository_snapshots", True)]
    rows = staged_rows(settings, captured, result.run_id)
    assert rows["repository_snapshots"] > 0
    assert {t for t, n in rows.items() if n} == {"repository_snapshots"}
    assert parsed == []
