"""The raw landing: frames of what the sources said, storing them, and reading them back (the only module that
reads raw documents).

A raw row (``raw_records``: date, source, key, status) references its payload in ``raw_documents`` by
``document_id``; a document is stored once, whatever the number of dates that received it, keyed by the first
16 bytes of the SHA-256 of its text (``DIGEST``). In Python a raw frame carries the payload text
(``RAW_SCHEMA``): ``replace_raw`` stores one, ``read_raw`` and ``raw_rows`` give one back. SQL readers take
``RAW_TEXT``, the raw rows with their payload text, as a table expression. A date whose raw is replaced (a
capture of the same date again) deletes, in the same transaction, the documents that only its old rows
referenced, so nothing is orphaned and nothing another date references is lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from datetime import date
from typing import Any

import duckdb
import polars as pl

from warehouse.store import Warehouse

# How a payload's digest is computed, in SQL (here and in migration 006): the first 16 bytes of SHA-256 of the
# text's UTF-8 bytes, as 32 hex digits (text, so that every client, DuckDB 1.4 too, shows it the same way).
DIGEST = "left(sha256({}), 32)"
# The raw rows with their payload text, for SQL that reads JSON (a table expression: FROM {RAW_TEXT} r).
RAW_TEXT = (
    "(SELECT r.snapshot_date, r.source, r.record_key, r.status, d.payload "
    "FROM raw_records r LEFT JOIN raw_documents d ON d.document_id = r.document_id)"
)

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
        "SELECT r.record_key, r.status, d.payload FROM raw_records r "
        "LEFT JOIN raw_documents d ON d.document_id = r.document_id "
        "WHERE r.snapshot_date = $d AND r.source = $s "
        "ORDER BY r.record_key, d.payload",  # copies under one key come back in one order, every time
        {"d": snapshot_date, "s": source},
    )


def raw_rows(wh: Warehouse, snapshot_date: date, sources: Iterable[str] | None = None) -> pl.DataFrame:
    """A date's raw rows (of ``sources``, else all) as a raw frame (``RAW_SCHEMA``, payload text), in the
    order they were stored."""
    wanted = None if sources is None else list(sources)
    # A file from before migration 006 (a capture kept unpublished across the upgrade, opened read-only)
    # still holds the payload in its rows.
    joined = (
        "raw_records r"
        if "payload" in wh.columns("raw_records")
        else "raw_records r LEFT JOIN raw_documents d ON d.document_id = r.document_id"
    )
    frame = wh.query(
        "SELECT r.snapshot_date, r.source, r.record_key, r.status, payload "
        f"FROM {joined} WHERE r.snapshot_date = $d "
        + ("" if wanted is None else "AND r.source IN (SELECT unnest($s::VARCHAR[])) ")
        + "ORDER BY r.rowid",
        {"d": snapshot_date} if wanted is None else {"d": snapshot_date, "s": wanted},
    )
    return frame if frame.height else pl.DataFrame(schema=RAW_SCHEMA)


def latest_documents(wh: Warehouse, source: str, before: date, statuses: list[str]) -> pl.DataFrame:
    """Each key's raw row of ``source`` from its latest date before ``before`` among rows with one of
    ``statuses``: ``record_key``, ``status``, ``payload`` and ``serial`` (the payload's ``last_serial``,
    null when the payload is not JSON DuckDB reads, a lone surrogate's escape for one)."""
    return wh.query(
        "WITH latest AS (SELECT record_key, status, document_id FROM raw_records "
        "WHERE source = $s AND snapshot_date < $d AND status IN (SELECT unnest($st::VARCHAR[])) "
        "QUALIFY row_number() OVER (PARTITION BY record_key ORDER BY snapshot_date DESC) = 1) "
        "SELECT l.record_key, l.status, d.payload, CASE WHEN json_valid(d.payload) THEN "
        "TRY_CAST(json_extract_string(d.payload, '$.last_serial') AS BIGINT) END AS serial "
        "FROM latest l LEFT JOIN raw_documents d ON d.document_id = l.document_id ORDER BY l.record_key",
        {"s": source, "d": before, "st": statuses},
    )


def replace_raw(
    wh: Warehouse, snapshot_date: date, frame: pl.DataFrame, sources: Iterable[str] | None = None
) -> int:
    """Replace ``snapshot_date``'s raw rows of ``sources`` (all of the date's when None) with ``frame`` (``RAW_SCHEMA``) in one
    transaction, storing only the documents not stored yet; return the rows written."""
    missing = set(RAW_SCHEMA) - set(frame.columns)
    if missing:
        raise ValueError(f"a raw frame needs the columns {sorted(missing)}")
    dates = frame.get_column("snapshot_date").unique().to_list()
    if frame.height and dates != [snapshot_date]:
        raise ValueError(f"raw rows for {dates} in a write of {snapshot_date}")
    incoming = frame.select(list(RAW_SCHEMA)).with_row_index("pos").to_arrow()
    with wh.transaction() as conn:
        conn.register("_raw_frame", incoming)
        try:
            conn.execute(
                "CREATE OR REPLACE TEMP TABLE _raw_in AS SELECT pos, source, record_key, status, payload, "
                f"CASE WHEN payload IS NOT NULL THEN {DIGEST.format('payload')} END AS digest FROM _raw_frame"
            )
        finally:
            conn.unregister("_raw_frame")
        return _land(conn, "main", snapshot_date, None if sources is None else list(sources))


def publish_raw(conn: duckdb.DuckDBPyConnection, staged: str, snapshot_date: date) -> int:
    """Replace ``snapshot_date``'s raw rows in the connection's database with those of the attached
    database ``staged`` (a run's staging file), inside the caller's transaction: documents the warehouse
    holds already are referenced, not copied. Return the rows written."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_in AS SELECT r.rowid AS pos, r.source, r.record_key, r.status, "
        f'd.payload, d.digest FROM "{staged}".raw_records r '
        f'LEFT JOIN "{staged}".raw_documents d ON d.document_id = r.document_id WHERE r.snapshot_date = ?',
        [snapshot_date],
    )
    return _land(conn, "main", snapshot_date, None)


def _land(conn: duckdb.DuckDBPyConnection, db: str, day: date, sources: list[str] | None) -> int:
    """Replace ``day``'s raw rows (of ``sources``, else all) in database ``db`` with the temp table
    ``_raw_in`` (pos, source, record_key, status, payload, digest). Runs inside the caller's transaction."""
    scope = "snapshot_date = $d" + (
        "" if sources is None else " AND source IN (SELECT unnest($s::VARCHAR[]))"
    )
    params: dict[str, object] = {"d": day} if sources is None else {"d": day, "s": sources}
    records, documents = f'"{db}".raw_records', f'"{db}".raw_documents'
    # What the replaced rows referenced: deleted below unless another row still references it.
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_old AS SELECT DISTINCT document_id FROM "
        f"{records} WHERE {scope} AND document_id IS NOT NULL",
        params,
    )
    conn.execute(f"DELETE FROM {records} WHERE {scope}", params)
    conn.execute(
        f"INSERT INTO {documents} (document_id, digest, payload) "
        f"SELECT (SELECT coalesce(max(document_id), 0) FROM {documents}) + row_number() OVER (ORDER BY pos), "
        "digest, payload FROM ("
        "SELECT digest, any_value(payload) AS payload, min(pos) AS pos FROM _raw_in "
        "WHERE digest IS NOT NULL GROUP BY digest) n "
        f"WHERE NOT EXISTS (SELECT 1 FROM {documents} s WHERE s.digest = n.digest)"
    )
    conn.execute(
        f"INSERT INTO {records} (snapshot_date, source, record_key, status, document_id) "
        "SELECT $d, i.source, i.record_key, i.status, s.document_id FROM _raw_in i "
        f"LEFT JOIN {documents} s ON s.digest = i.digest ORDER BY i.pos",
        {"d": day},
    )
    written = conn.execute(f"SELECT count(*) FROM {records} WHERE {scope}", params).fetchall()[0][0]
    orphans = conn.execute("SELECT count(*) FROM _raw_old").fetchall()[0][0]
    if orphans:
        conn.execute(
            f"DELETE FROM {documents} WHERE document_id IN (SELECT document_id FROM _raw_old) "
            f"AND document_id NOT IN (SELECT document_id FROM {records} WHERE document_id IS NOT NULL)"
        )
    conn.execute("DROP TABLE _raw_in")
    conn.execute("DROP TABLE _raw_old")
    return int(written)


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
