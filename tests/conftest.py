"""Shared fixtures: real sample records from the shipped bundle, and a fresh warehouse file per test."""

from __future__ import annotations

import gzip
import json
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
    from pipelines.runner import run_date
    from pipelines.settings import Settings
    from replay.server import ReplayServer

    with ReplayServer(SAMPLE_BUNDLE, port=0) as server:
        dates = [server.date + timedelta(days=offset) for offset in range(days)]
        settings = Settings().with_replay(server.base_url).with_warehouse(path)
        for day in dates:
            server.set_date(day)
            run_date(settings, day, "capture")
    return dates


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
