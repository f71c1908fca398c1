"""Shared fixtures: real sample records from the shipped bundle, and a fresh warehouse file per test."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from warehouse.store import Warehouse

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUNDLE = ROOT / "pipelines" / "replay" / "bundles" / "sample"


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


@pytest.fixture
def warehouse(tmp_path: Path):
    with Warehouse(tmp_path / "warehouse.duckdb") as wh:
        yield wh
