from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from assets.checks import contract_check_result
from tests.conftest import sample_packages
from warehouse.contracts import TABLE_MODELS
from warehouse.parsing import parse_packages
from warehouse.raw import raw_frame, record_key
from warehouse.store import Warehouse

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


def test_every_table_has_a_model(warehouse):
    # Every table a migrated warehouse has but the migration ledger: a new table without a model fails here.
    tables = {
        name
        for (name,) in warehouse.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'"
        ).fetchall()
    }
    assert sorted(tables - set(TABLE_MODELS)) == [], "tables without a model"
    assert sorted(set(TABLE_MODELS) - tables) == [], "models without a table"


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A warehouse with two days captured through the pipeline, one record rejected and one package revived
    between them (dormant on the first day, busy every week on the second), so every table has rows; the
    second is the first of the next month, whose capture compacts the month before."""
    from pipelines.runner import run_date
    from pipelines.settings import Settings
    from replay.bundle import make_bundle
    from replay.server import ReplayServer

    records = sample_packages()[:60]
    records[0] = {**records[0], "id": "abc"}
    path = tmp_path_factory.mktemp("checks") / "w.duckdb"
    with ReplayServer(make_bundle(records)) as server:
        first = server.date
        settings = Settings().with_replay(server.base_url).with_warehouse(path)
        run_date(settings, first, "capture")
    dormant = next(i for i, r in enumerate(records[1:], 1) if not any(r.get("commits_over_52") or [1]))
    records[dormant] = {**records[dormant], "commits_over_52": [9] * 52}
    following = (first.replace(day=1) + timedelta(days=31)).replace(day=1)
    with ReplayServer(make_bundle(records), date=following) as server:
        run_date(settings.with_replay(server.base_url), server.date, "capture")
    with Warehouse(path, read_only=True) as wh:
        assert wh.row("SELECT count(*) FROM status_transitions")[0] > 0, "the fixture revives no package"
    return path


@pytest.mark.parametrize("table", sorted(TABLE_MODELS))
def test_each_generated_contract_check_passes_real_rows_and_fails_a_broken_one(published, table):
    # A check judges one partition: uniqueness holds within a date.
    with Warehouse(published, read_only=True) as wh:
        dated = "snapshot_date" in wh.columns(table)
        rows = wh.query(
            f"SELECT * FROM {table}"
            + (f" WHERE snapshot_date = (SELECT max(snapshot_date) FROM {table})" if dated else "")
            + " ORDER BY ALL"
        )
    assert rows.height > 0
    passed = contract_check_result(table, rows)
    assert passed.passed and passed.metadata["failing_rows"].value == 0
    # The first column the model says can never be null, emptied in the last row (the newest raw document,
    # which no splice uses as its base, so only that row fails).
    column = next(n for n, c in TABLE_MODELS[table].to_schema().columns.items() if not c.nullable)
    broken = rows.with_columns(
        pl.when(pl.int_range(pl.len()) == rows.height - 1).then(None).otherwise(pl.col(column)).alias(column)
    )
    failed = contract_check_result(table, broken)
    assert not failed.passed
    assert failed.metadata["failing_rows"].value == 1
    assert column in failed.metadata["failures"].value
