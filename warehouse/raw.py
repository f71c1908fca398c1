"""Frames for the raw landing tables, and reading raw back for recomputation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Any

import polars as pl

from warehouse.store import Warehouse

RAW_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "snapshot_date": pl.Date,
    "source": pl.String,
    "record_key": pl.String,
    "status": pl.String,
    "payload": pl.String,
}
REQUEST_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
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
        "ORDER BY record_key, payload",  # copies under one key come back in one order, every time
        {"d": snapshot_date, "s": source},
    )


# A key names a record for people and joins; the payload keeps the whole id however long it is.
_KEY_CHARS = 200
_SURROGATE = re.compile("[\ud800-\udfff]")


def record_key(record: Any) -> str:
    """A record's id as text; JSON text for ids of the wrong type, so a bad record keeps a readable key."""
    value = record.get("id") if isinstance(record, dict) else None
    key = value if isinstance(value, str) else json.dumps(value)
    return _escape_surrogates(key)[:_KEY_CHARS]


def _escape_surrogates(text: str) -> str:
    # A lone surrogate (a "\ud800" escape without its pair) is valid JSON but has no UTF-8 form; its JSON
    # escape is the same value, losslessly, and every other character stays as received.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _payload_text(payload: Any) -> str:
    """A payload as compact JSON text, stored as received."""
    return _escape_surrogates(json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


def raw_frame(snapshot_date: date, source: str, items: Iterable[tuple[str, str, Any]]) -> pl.DataFrame:
    """Raw rows from (record_key, status, payload) items; payloads are stored as compact JSON text."""
    rows = [
        {
            "snapshot_date": snapshot_date,
            "source": source,
            "record_key": _escape_surrogates(key),
            "status": status,
            "payload": None if payload is None else _payload_text(payload),
        }
        for key, status, payload in items
    ]
    return pl.DataFrame(rows, schema=RAW_SCHEMA)


def requests_frame(snapshot_date: date, asset: str, records: Iterable[Any]) -> pl.DataFrame:
    """Rows for ``raw_requests`` from request records (dataclasses with the request log's fields)."""
    rows = [
        {
            **(asdict(r) if is_dataclass(r) and not isinstance(r, type) else dict(r)),
            "snapshot_date": snapshot_date,
            "asset": asset,
        }
        for r in records
    ]
    return pl.DataFrame(rows, schema=REQUEST_SCHEMA)
