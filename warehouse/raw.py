"""Frames for the raw landing tables, and reading raw back for recomputation."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Any

import polars as pl

from warehouse.store import Warehouse

RAW_SCHEMA = {
    "snapshot_date": pl.Date,
    "source": pl.String,
    "record_key": pl.String,
    "status": pl.String,
    "payload": pl.String,
}
REQUEST_SCHEMA = {
    "snapshot_date": pl.Date,
    "asset": pl.String,
    "source": pl.String,
    "method": pl.String,
    "path": pl.String,
    "status": pl.Int32,
    "attempts": pl.Int32,
    "ok": pl.Boolean,
    "error": pl.String,
    "elapsed_ms": pl.Float64,
    "started_at": pl.Datetime("us", "UTC"),
}


def read_raw(wh: Warehouse, snapshot_date: date, source: str) -> pl.DataFrame:
    """A date's raw rows of one source (``record_key``, ``status``, ``payload``), in key order."""
    return wh.query(
        "SELECT record_key, status, payload FROM raw_records WHERE snapshot_date = $d AND source = $s "
        "ORDER BY record_key",
        {"d": snapshot_date, "s": source},
    )


def record_key(record: Any) -> str:
    """A record's id as text; JSON text for ids of the wrong type, so a bad record keeps a readable key."""
    value = record.get("id") if isinstance(record, dict) else None
    return value if isinstance(value, str) else json.dumps(value)


def raw_frame(snapshot_date: date, source: str, items: Iterable[tuple[str, str, Any]]) -> pl.DataFrame:
    """Raw rows from (record_key, status, payload) items; payloads are stored as compact JSON text."""
    rows = [
        {
            "snapshot_date": snapshot_date,
            "source": source,
            "record_key": key,
            "status": status,
            "payload": None
            if payload is None
            else json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        }
        for key, status, payload in items
    ]
    return pl.DataFrame(rows, schema=RAW_SCHEMA)


def requests_frame(snapshot_date: date, asset: str, records: Iterable[Any]) -> pl.DataFrame:
    """Rows for ``raw_requests`` from request records (dataclasses with the request log's fields)."""
    rows = [
        {**(asdict(r) if is_dataclass(r) else dict(r)), "snapshot_date": snapshot_date, "asset": asset}
        for r in records
    ]
    return pl.DataFrame(rows, schema=REQUEST_SCHEMA)
