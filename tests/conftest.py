"""Shared fixtures: real sample records from the shipped bundle, and a fresh warehouse file per test."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import pytest

from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUNDLE = ROOT / "replay" / "bundles" / "sample"


def sample_packages() -> list[dict]:
    """The sample bundle's package records, API fields only, first snapshot of each id."""
    seen, records = set(), []
    with gzip.open(SAMPLE_BUNDLE / "packages.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            record = {k: v for k, v in json.loads(line).items() if not k.startswith("_")}
            if record["id"] not in seen:
                seen.add(record["id"])
                records.append(record)
    return records


def capture_days(path: Path, days: int) -> list[date]:
    """A real warehouse: `days` dates captured through Dagster from a replay server of the sample bundle."""
    return capture_dates(path, range(days))


def capture_dates(path: Path, offsets: Iterable[int], bundle: Path = SAMPLE_BUNDLE) -> list[date]:
    """The dates ``offsets`` days after the bundle's date captured through Dagster from a replay server of
    ``bundle``."""
    from pipelines.runner import run_date
    from pipelines.settings import Settings
    from replay.server import ReplayServer

    with ReplayServer(bundle, port=0) as server:
        dates = [server.date + timedelta(days=offset) for offset in offsets]
        settings = Settings().with_replay(server.base_url).with_warehouse(path)
        for day in dates:
            server.set_date(day)
            run_date(settings, day, "capture")
    return dates


def small_bundle(directory: Path, packages: int) -> Path:
    """A bundle of the sample's first ``packages`` packages (categories and grids derived from them)."""
    directory.mkdir(parents=True, exist_ok=True)
    kept: set[int] = set()
    with (
        gzip.open(SAMPLE_BUNDLE / "packages.jsonl.gz", "rt", encoding="utf-8") as lines,
        (directory / "packages.jsonl").open("w", encoding="utf-8") as out,
    ):
        for line in lines:
            package_id = json.loads(line)["id"]
            if package_id in kept or len(kept) < packages:
                kept.add(package_id)
                out.write(line)
    return directory


DASHBOARD_OFFSETS = (0, 1, 8)


@pytest.fixture(scope="session")
def dashboard_history(tmp_path_factory) -> tuple[Path, list[date], Path]:
    """The dashboards' fixture: 100 packages captured through the pipeline on three dates, the last a week
    after the second so it has 7-day changes; the dates, and the bundle (to capture another). Tests that
    write copy the file first."""
    root = tmp_path_factory.mktemp("dashboards")
    bundle = small_bundle(root / "bundle", 100)
    path = root / "warehouse.duckdb"
    return path, capture_dates(path, DASHBOARD_OFFSETS, bundle), bundle


@pytest.fixture
def warehouse(tmp_path: Path):
    with Warehouse(tmp_path / "warehouse.duckdb") as wh:
        yield wh


def legacy_warehouse(path: Path):
    """An open connection to a warehouse as dpw made it before it set a storage version: plain
    duckdb.connect (DuckDB 2's own format) with the migrations applied; the caller adds rows and closes."""
    import duckdb

    from warehouse.store import migrations

    conn = duckdb.connect(str(path))
    conn.execute(
        "CREATE TABLE schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
    )
    for version, name, sql in migrations():
        conn.execute(sql)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    return conn
