"""The core tables' and scores' step: every selected source parsed at the same time, each staged on its own,
then the scores computed from the parsed frames; and a run of part of the graph, which is not published."""

import dataclasses
import time

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets import ALL_ASSETS
from assets.core import CORE_SOURCES, SCORE_TABLES, core_tables_and_scores
from pipelines.definitions import resources
from pipelines.runner import run_date
from warehouse import enrichment, staging
from warehouse.metrics import daily_metrics
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


def materialize_only(settings, day, table: str) -> dg.ExecuteInProcessResult:
    """Materialize one table of ``day``, which must be the only one reported, with its check passed."""
    result = dg.materialize(
        ALL_ASSETS, selection=[table], partition_key=day.isoformat(), resources=resources(settings)
    )
    assert materialized(result) == {table}
    checks = result.get_asset_check_evaluations()
    assert [(c.asset_key.to_user_string(), c.passed) for c in checks] == [(table, True)]
    return result


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
        selection=[core_tables_and_scores],
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
    result = materialize_only(settings, captured, "repository_snapshots")
    rows = staged_rows(settings, captured, result.run_id)
    assert rows["repository_snapshots"] > 0
    assert {t for t, n in rows.items() if n} == {"repository_snapshots"}
    assert parsed == []


def test_a_score_alone_stages_every_source_and_is_what_the_staged_tables_score(settings, captured):
    """The scores are computed from the parsed frames, not from the tables read back: they must be the
    scores of exactly the rows staged, to the last value and type."""
    result = materialize_only(settings, captured, "daily_grid_percentiles")
    rows = staged_rows(settings, captured, result.run_id)
    assert rows["package_snapshots"] == 240 and all(rows.values()), rows
    with Warehouse(staging.staging_file(settings.warehouse, captured, result.run_id), read_only=True) as wh:
        tables = {
            t: wh.partition(t, captured)
            for t in (
                *SOURCE_TABLES["djangopackages"],
                *SOURCE_TABLES["github"],
                *SOURCE_TABLES["pypi"],
                *SOURCE_TABLES["forges"],
            )
        }
        expected = daily_metrics(
            tables["package_snapshots"],
            tables["repository_snapshots"],
            tables["pypi_projects"],
            tables["grid_package_snapshots"],
            captured,
            forges=tables["forge_repository_snapshots"],
        )
        staged = [wh.partition(table, captured) for table in SCORE_TABLES]
    for got, want, key in zip(staged, expected, (["package_id"], ["grid_id", "package_id"]), strict=True):
        assert got.height > 0
        assert_frame_equal(got.sort(key), want.sort(key))


def test_a_core_table_that_breaks_its_contract_is_not_scored_and_the_step_says_which(
    settings, captured, monkeypatch
):
    original = enrichment.parse_forges

    def broken(*args):
        parsed = original(*args)
        return dataclasses.replace(parsed, accepted=parsed.accepted.with_columns(status=pl.lit("bogus")))

    monkeypatch.setattr(enrichment, "parse_forges", broken)
    result = dg.materialize(
        ALL_ASSETS,
        selection=[core_tables_and_scores],
        partition_key=captured.isoformat(),
        resources=resources(settings),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert failure is not None
    assert failure.description == (
        "scores failed: nothing is scored, since the rows of forge_repository_snapshots fail their contract"
    )
    checks = {c.asset_key.to_user_string(): c.passed for c in result.get_asset_check_evaluations()}
    assert checks["forge_repository_snapshots"] is False
    assert checks["package_snapshots"] is True and not set(SCORE_TABLES) & set(checks)
    assert not set(SCORE_TABLES) & materialized(result)
    with Warehouse(staging.staging_file(settings.warehouse, captured, result.run_id), read_only=True) as wh:
        assert [wh.partition(table, captured).height for table in SCORE_TABLES] == [0, 0]
        assert wh.partition("forge_repository_snapshots", captured).height == 0
        assert wh.partition("package_snapshots", captured).height == 240


def date_rows(settings, day) -> dict[str, int]:
    """Rows of ``day`` in each table a run publishes, raw by source."""
    with Warehouse(settings.warehouse, read_only=True) as wh:
        rows = {
            table: wh.row(f'SELECT count(*) FROM "{table}" WHERE snapshot_date = ?', [day])[0]
            for table in staging.DERIVED_TABLES
        }
        sources = wh.query(
            "SELECT source, count(*) AS n FROM raw_records WHERE snapshot_date = $d GROUP BY source",
            {"d": day},
        )
    return rows | {f"raw_records:{source}": n for source, n in sources.iter_rows()}


ASSET_NAMES = [
    key.to_user_string()
    for a in ALL_ASSETS
    for key in (a.keys if isinstance(a, dg.AssetsDefinition) else [a.key])
]


@pytest.mark.parametrize(
    ("selection", "named"),
    [
        # A recompute of two catalogue tables. Published, it emptied the date's GitHub, PyPI and score tables.
        (
            ["package_snapshots", "category_snapshots", "ingest_runs"],
            "grid_snapshots, grid_package_snapshots",
        ),
        # A capture without GitLab and Bitbucket. Published, it lost the date's raw of both.
        (
            [a for a in ASSET_NAMES if a not in ("raw_forges", "forge_repository_snapshots")],
            "raw_forges, forge_repository_snapshots",
        ),
    ],
)
def test_a_run_of_part_of_the_graph_is_not_published_over_the_date(settings, captured, selection, named):
    before = date_rows(settings, captured)
    result = dg.materialize(
        ALL_ASSETS,
        selection=selection,
        partition_key=captured.isoformat(),
        resources=resources(settings),
        raise_on_error=False,
    )
    failures = [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]
    assert (
        len(failures) == 1
        and f"{captured} not published: this run does not materialize {named}" in failures[0]
    )
    assert date_rows(settings, captured) == before
    assert before["grid_snapshots"] and before["raw_records:bitbucket/repository"]
