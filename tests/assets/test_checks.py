from datetime import date

import polars as pl
import pytest

from assets.checks import contract_check_result
from tests.conftest import sample_packages
from warehouse.contracts import TABLE_MODELS
from warehouse.parsing import parse_packages
from warehouse.raw import raw_frame, record_key

DAY = date(2026, 6, 1)  # after the sample records were fetched: later times are unknown


@pytest.fixture
def stored_packages(warehouse):
    accepted = parse_packages(
        raw_frame(DAY, "djangopackages/packages", [(record_key(r), "ok", r) for r in sample_packages()[:20]]),
        DAY,
    ).accepted
    warehouse.replace_partitions(DAY, {"package_snapshots": accepted})
    return warehouse.partition("package_snapshots", DAY)


def test_contract_check_passes_on_a_stored_valid_partition(stored_packages):
    result = contract_check_result("package_snapshots", stored_packages)
    assert result.passed
    assert result.metadata["rows"].value == 20
    assert result.metadata["failing_rows"].value == 0


def test_contract_check_reports_every_failing_row_not_just_the_first(stored_packages):
    broken = stored_packages.with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(-1).otherwise(pl.col("stars")).alias("stars"),
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit("ftp"))
        .otherwise(pl.col("repo_host"))
        .alias("repo_host"),
    )
    result = contract_check_result("package_snapshots", broken)
    assert not result.passed
    assert result.metadata["failing_rows"].value == 4
    text = result.metadata["failures"].value
    assert text.count("stars: fails greater_than_or_equal_to(0)") == 3
    assert "repo_host: fails isin" in text


def test_contract_check_fails_on_a_wrong_dtype(stored_packages):
    result = contract_check_result(
        "package_snapshots", stored_packages.with_columns(pl.col("stars").cast(pl.Float64))
    )
    assert not result.passed
    assert "stars" in result.metadata["error"].value


def test_every_table_has_a_model():
    assert {"package_snapshots", "daily_package_metrics", "rejected_records"} <= set(TABLE_MODELS)
