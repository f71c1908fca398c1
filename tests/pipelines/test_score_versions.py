"""A score version registered beside dpas-1.0, with its own constants and formula, is what
`dpw rescore --score-version` scores a stored date with; the other dates keep their dpas-1.0 rows."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import capture_days
from tests.pipelines.conftest import closed_url, point_sources
from warehouse.scoring import (
    DPAS1,
    SCORE_VERSION,
    SCORE_VERSIONS,
    ScoreConstants,
    ScoreVersion,
    dpas_1,
    register,
)
from warehouse.store import Warehouse

# Recency that halves at 13 weeks instead of 26.
RECENCY_2 = ScoreConstants(**(DPAS1.as_dict() | {"version": "recency-2.0", "recency_scale_weeks": 13.0}))


def recency_alone(
    frame: pl.DataFrame | pl.LazyFrame, scoring_date: date, constants: ScoreConstants
) -> pl.DataFrame:
    """A new formula, not only new constants: the activity is the recency alone, 100 * R."""
    return dpas_1(frame, scoring_date, constants).with_columns(
        (100.0 * pl.col("recency")).alias("activity_score")
    )


@pytest.fixture
def recency_2():
    version = register(ScoreVersion(RECENCY_2, recency_alone))
    yield version
    # Other tests see dpas-1.0 alone again.
    del SCORE_VERSIONS[version.name]


@pytest.fixture(scope="module")
def captured(tmp_path_factory) -> tuple[Path, list[date]]:
    path = tmp_path_factory.mktemp("versions") / "warehouse.duckdb"
    return path, capture_days(path, 2)


def _rows(path: Path, table: str, day: date) -> pl.DataFrame:
    with Warehouse(path, read_only=True) as wh:
        return wh.query(
            f"SELECT * FROM {table} WHERE snapshot_date = $d ORDER BY ALL",
            {"d": day},
        )


def test_rescore_with_a_registered_version_changes_that_date_only(captured, recency_2, monkeypatch):
    path, (kept, rescored) = captured
    point_sources(monkeypatch, closed_url())
    tables = ("daily_package_metrics", "daily_grid_percentiles")
    kept_before = {table: _rows(path, table, kept) for table in tables}
    before = _rows(path, "daily_package_metrics", rescored)
    assert set(before["score_version"]) == {SCORE_VERSION}

    result = CliRunner().invoke(
        app,
        ["rescore", "--from", str(rescored), "--to", str(rescored), "--score-version", "recency-2.0"],
        env={"DPW_WAREHOUSE": str(path)},
    )

    assert result.exit_code == 0, result.output
    assert f"rescored 1 dates ({rescored} .. {rescored}) with recency-2.0" in result.output
    for table in tables:
        assert _rows(path, table, kept).equals(kept_before[table]), table
    after = _rows(path, "daily_package_metrics", rescored)
    assert after.height == before.height == 240
    assert set(after["score_version"]) == {"recency-2.0"}
    # The inputs and the gap are the same; the score is the new formula on the new constants.
    assert after["gap_weeks"].equals(before["gap_weeks"])
    expected = after.select(
        pl.when(pl.col("gap_weeks").is_not_null()).then(100.0 / (1.0 + (pl.col("gap_weeks") / 13.0) ** 1.5))
    ).to_series()
    assert (after["activity_score"] - expected).abs().max() < 1e-9
    assert after["activity_score"].null_count() == before["activity_score"].null_count() < 240
    changed = (after["activity_score"] != before["activity_score"]).fill_null(False)
    assert changed.sum() == (before["gap_weeks"] > 0).sum() > 0
    with Warehouse(path, read_only=True) as wh:
        ledger = wh.query(
            "SELECT score_version, packages_scored FROM ingest_runs WHERE snapshot_date = $d "
            "ORDER BY started_at DESC LIMIT 1",
            {"d": rescored},
        )
    assert ledger.row(0) == ("recency-2.0", 240)


def test_an_unregistered_version_is_refused_and_dpas_1_alone_is_known(captured):
    path, (_, rescored) = captured
    assert list(SCORE_VERSIONS) == [SCORE_VERSION]
    result = CliRunner().invoke(
        app,
        ["rescore", "--from", str(rescored), "--to", str(rescored), "--score-version", "recency-2.0"],
        env={"DPW_WAREHOUSE": str(path)},
    )
    assert result.exit_code == 1
    assert "unknown score version 'recency-2.0'; known: dpas-1.0" in result.output
