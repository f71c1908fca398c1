"""The raw landing: frames of what the sources said, storing them, and reading them back (the only module that
reads raw documents).

A raw row (``raw_records``: date, source, key, status) references its payload in ``raw_documents`` by
``document_id``; a document is stored once, whatever the number of dates that received it, keyed by the first
16 bytes of the SHA-256 of its text (``DIGEST``). A new document that differs from its record's latest full
document in a few top-level values only is stored as a patch against it (``base_id``; see ``_patch``): the
values that changed, spliced into the base's text by position. A base is always a full document (one join
reads any document) and the text is reconstructed by one SQL expression (``_texts``), which every reader here
uses and which the write checks, in its transaction, gives the received text byte for byte before it keeps a
patch (otherwise the full text is stored). In Python a raw frame carries the payload text (``RAW_SCHEMA``):
``replace_raw`` stores one, ``read_raw`` and ``raw_rows`` give one back. SQL readers take ``RAW_TEXT``, the raw
rows with their payload text, as a table expression. A date whose raw is replaced (a capture of the same date
again) deletes, in the same transaction, the documents that only its old rows referenced, so nothing is
orphaned and nothing another date references (as a row's document or as a patch's base) is lost.
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

# A patch: "a1,b1,r1,...,a4,b4,r4:" then the replacements R1..R4 one after the other. Splice i replaces the
# base's characters [a_i, b_i) (0-based, in order, not overlapping) with R's characters [r_(i-1), r_i): the
# text is B[0:a1] R1 B[b1:a2] R2 ... B[b4:]. Always four splices (an unused one is empty), so the text is a
# plain expression of string functions, no JSON parsed and no lambda: reading a date of patched documents
# costs about what reading them full does.
_SPLICES = 4


def _texts(columns: str, joined: str, where: str = "") -> str:
    """A table expression of ``columns`` and ``payload``, the document's text, from ``joined``: rows with
    their ``raw_documents`` row aliased ``d`` and its base's aliased ``b`` (joined on ``b.document_id =
    d.base_id``), filtered by ``where``. The one place a patch is read: the header is split once a row, in an
    inner projection, and the text is a plain expression of string functions (no JSON parsed, no lambda), so
    reading a date of patched documents costs about what reading them full does."""
    parts, before, done = [], "0", "0"
    for i in range(_SPLICES):
        a, b, r = (f"_h[{3 * i + n}]" for n in (1, 2, 3))
        parts.append(f"substr(_base, {before} + 1, {a} - {before})")
        parts.append(f"substr(_rest, {done} + 1, {r} - {done})")
        before, done = b, r
    parts.append(f"substr(_base, {before} + 1)")
    return (
        "(SELECT * EXCLUDE (_base_id, _doc, _base, _h, _rest), "
        f"CASE WHEN _base_id IS NULL THEN _doc ELSE {' || '.join(parts)} END AS payload "
        f"FROM (SELECT {columns}, d.base_id AS _base_id, d.payload AS _doc, b.payload AS _base, "
        "CASE WHEN d.base_id IS NOT NULL THEN string_split(split_part(d.payload, ':', 1), ',')::BIGINT[] END "
        "AS _h, CASE WHEN d.base_id IS NOT NULL THEN substr(d.payload, strpos(d.payload, ':') + 1) END AS _rest "
        f"FROM {joined} {where}))"
    )


def _joined(db: str | None = None, records: str = "raw_records") -> str:
    """Raw rows ``r`` with their document ``d`` and its base ``b`` (of the attached database ``db``). The
    bases are looked up among the documents some patch is based on, not among all: the join's table then
    holds those texts only, not every document's."""
    prefix = "" if db is None else f'"{db}".'
    return (
        f"{prefix}{records} r LEFT JOIN {prefix}raw_documents d ON d.document_id = r.document_id "
        f"LEFT JOIN (SELECT document_id, payload FROM {prefix}raw_documents WHERE document_id IN "
        f"(SELECT base_id FROM {prefix}raw_documents WHERE base_id IS NOT NULL)) b ON b.document_id = d.base_id"
    )


# The raw rows with their payload text, for SQL that reads JSON (a table expression: FROM {RAW_TEXT} r).
RAW_TEXT = _texts("r.snapshot_date, r.source, r.record_key, r.status", _joined())

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
    return read_raws(wh, snapshot_date, [source])[source]


def read_raws(wh: Warehouse, snapshot_date: date, sources: Iterable[str]) -> dict[str, pl.DataFrame]:
    """``read_raw`` of each of ``sources``, in one read: each read goes through every stored document (they
    are joined to the rows, not looked up), so several sources cost little more than one."""
    wanted = list(dict.fromkeys(sources))
    rows = wh.query(
        "SELECT source, record_key, status, payload FROM "
        + _texts(
            "r.source, r.record_key, r.status",
            _joined(),
            "WHERE r.snapshot_date = $d AND r.source IN (SELECT unnest($s::VARCHAR[]))",
        ),
        {"d": snapshot_date, "s": wanted},
    )
    parts = rows.partition_by("source", as_dict=True, include_key=False) if rows.height else {}
    none = rows.drop("source").clear()
    return {source: _in_key_order(parts.get((source,), none)) for source in wanted}


def _in_key_order(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows by key; copies under one key in one order, every time: by their texts (then status), compared
    by their bytes, nulls last, as DuckDB's ORDER BY did. Sorted here, the texts are not carried through
    DuckDB's sort (0.2 s of PyPI's 180 MB at 50,000 packages), and only a source with a key given twice
    (or two without one) has its texts compared at all (0.06 s of PyPI's)."""
    if rows.get_column("record_key").is_duplicated().any():
        return rows.sort("record_key", "payload", "status", nulls_last=True)
    return rows.sort("record_key", nulls_last=True)


def raw_rows(wh: Warehouse, snapshot_date: date, sources: Iterable[str] | None = None) -> pl.DataFrame:
    """A date's raw rows (of ``sources``, else all) as a raw frame (``RAW_SCHEMA``, payload text), in the
    order they were stored."""
    wanted = None if sources is None else list(sources)
    # A file from before migration 006 (a capture kept unpublished across the upgrade, opened read-only)
    # still holds the payload in its rows.
    legacy = "payload" in wh.columns("raw_records")
    where = "WHERE r.snapshot_date = $d" + (
        "" if wanted is None else " AND r.source IN (SELECT unnest($s::VARCHAR[]))"
    )
    columns = "r.snapshot_date, r.source, r.record_key, r.status"
    rows = (
        f"(SELECT {columns}, r.payload, r.rowid AS _row FROM raw_records r {where})"
        if legacy
        else _texts(f"{columns}, r.rowid AS _row", _joined(), where)
    )
    frame = wh.query(
        f"SELECT snapshot_date, source, record_key, status, payload FROM {rows} ORDER BY _row",
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
        "SELECT record_key, status, payload, CASE WHEN json_valid(payload) THEN "
        "TRY_CAST(json_extract_string(payload, '$.last_serial') AS BIGINT) END AS serial "
        f"FROM {_texts('r.record_key, r.status', _joined(records='latest'))} ORDER BY record_key",
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
    holds already are referenced, not copied. The staged documents arrive as their texts (a staged patch's
    base is the staging file's), so a new one is stored full or patched against the warehouse's own documents.
    Return the rows written."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_in AS SELECT pos, source, record_key, status, payload, digest FROM "
        + _texts(
            "r.rowid AS pos, r.source, r.record_key, r.status, d.digest",
            _joined(staged),
            "WHERE r.snapshot_date = ?",
        ),
        [snapshot_date],
    )
    return _land(conn, "main", snapshot_date, None)


def _land(conn: duckdb.DuckDBPyConnection, db: str, day: date, sources: list[str] | None) -> int:
    """Replace ``day``'s raw rows (of ``sources``, else all) in database ``db`` with the temp table
    ``_raw_in`` (pos, source, record_key, status, payload text, digest). Runs inside the caller's transaction."""
    scope = "snapshot_date = $d" + (
        "" if sources is None else " AND source IN (SELECT unnest($s::VARCHAR[]))"
    )
    params: dict[str, object] = {"d": day} if sources is None else {"d": day, "s": sources}
    records, documents = f'"{db}".raw_records', f'"{db}".raw_documents'
    # What the replaced rows referenced: deleted below unless another row, or a patch, still references it.
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_old AS SELECT DISTINCT document_id FROM "
        f"{records} WHERE {scope} AND document_id IS NOT NULL",
        params,
    )
    conn.execute(f"DELETE FROM {records} WHERE {scope}", params)
    # The documents not stored yet, each with the record it first came under.
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _raw_new AS SELECT digest, any_value(payload) AS payload, "
        "min(pos) AS pos, arg_min(source, pos) AS source, arg_min(record_key, pos) AS record_key "
        f"FROM _raw_in i WHERE digest IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {documents} s "
        "WHERE s.digest = i.digest) GROUP BY digest"
    )
    _patches(conn, records, documents)
    conn.execute(
        f"INSERT INTO {documents} (document_id, digest, base_id, payload) "
        f"SELECT (SELECT coalesce(max(document_id), 0) FROM {documents}) + row_number() OVER (ORDER BY n.pos), "
        "n.digest, p.base_id, coalesce(p.payload, n.payload) FROM _raw_new n "
        "LEFT JOIN _raw_patch p ON p.digest = n.digest"
    )
    conn.execute(
        f"INSERT INTO {records} (snapshot_date, source, record_key, status, document_id) "
        "SELECT $d, i.source, i.record_key, i.status, s.document_id FROM _raw_in i "
        f"LEFT JOIN {documents} s ON s.digest = i.digest ORDER BY i.pos",
        {"d": day},
    )
    written = conn.execute(f"SELECT count(*) FROM {records} WHERE {scope}", params).fetchall()[0][0]
    # The replaced rows' documents no row references now; a patch's base goes only with the last patch on it.
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE _raw_gone AS SELECT s.document_id, s.base_id FROM {documents} s "
        "WHERE s.document_id IN (SELECT document_id FROM _raw_old) "
        f"AND s.document_id NOT IN (SELECT document_id FROM {records} WHERE document_id IS NOT NULL)"
    )
    if conn.execute("SELECT count(*) FROM _raw_gone").fetchall()[0][0]:
        conn.execute(
            f"DELETE FROM {documents} WHERE document_id IN "
            "(SELECT document_id FROM _raw_gone WHERE base_id IS NOT NULL)"
        )
        conn.execute(
            f"DELETE FROM {documents} WHERE document_id IN (SELECT document_id FROM _raw_gone "
            "WHERE base_id IS NULL UNION SELECT base_id FROM _raw_gone WHERE base_id IS NOT NULL) "
            f"AND document_id NOT IN (SELECT document_id FROM {records} WHERE document_id IS NOT NULL) "
            f"AND document_id NOT IN (SELECT base_id FROM {documents} WHERE base_id IS NOT NULL)"
        )
    for table in ("_raw_in", "_raw_old", "_raw_new", "_raw_patch", "_raw_gone"):
        conn.execute(f"DROP TABLE {table}")
    return int(written)


# A patch is worth storing when it is at most this share of the text; a base at least this long.
_PATCH_SHARE = 0.5
_MIN_BASE = 64


def _patches(conn: duckdb.DuckDBPyConnection, records: str, documents: str) -> None:
    """Fill the temp table ``_raw_patch`` (digest, base_id, payload) with the new documents (``_raw_new``) that
    are stored as a patch: against the full document their record's latest row references (or that row's
    patch is based on), when ``_patch`` finds one and the SQL reconstruction (``_texts``) of the patch gives
    the new text exactly."""
    pairs = conn.execute(
        "WITH l AS (SELECT source, record_key, document_id FROM "
        f"{records} WHERE document_id IS NOT NULL AND (source, record_key) IN "
        "(SELECT (source, record_key) FROM _raw_new) "
        "QUALIFY row_number() OVER (PARTITION BY source, record_key "
        "ORDER BY snapshot_date DESC, document_id DESC) = 1) "
        "SELECT n.digest, n.payload, b.document_id, b.payload FROM _raw_new n "
        "JOIN l ON l.source = n.source AND l.record_key = n.record_key "
        f"JOIN {documents} s ON s.document_id = l.document_id "
        f"JOIN {documents} b ON b.document_id = coalesce(s.base_id, s.document_id) "
        f"WHERE starts_with(n.payload, '{{') AND starts_with(b.payload, '{{') AND length(b.payload) >= {_MIN_BASE}"
    ).fetchall()
    found = [
        (digest, base_id, patch)
        for digest, text, base_id, base in pairs
        if (patch := _patch(base, text)) is not None
    ]
    candidates = pl.DataFrame(
        found, schema={"digest": pl.String, "base_id": pl.Int64, "payload": pl.String}, orient="row"
    ).to_arrow()
    conn.register("_raw_candidates", candidates)
    try:
        # The readers' reconstruction, of each candidate against its base: kept only when it is the text.
        rebuilt = _texts(
            "d.digest, d.base_id, d.payload AS patch",
            f"_raw_candidates d JOIN {documents} b ON b.document_id = d.base_id AND b.base_id IS NULL",
        )
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE _raw_patch AS SELECT c.digest, c.base_id, c.patch AS payload "
            f"FROM {rebuilt} c JOIN _raw_new n ON n.digest = c.digest WHERE c.payload = n.payload"
        )
    finally:
        conn.unregister("_raw_candidates")


_DECODE = json.JSONDecoder().raw_decode


def _values(text: str) -> tuple[list[str], list[tuple[int, int]]] | None:
    """The texts of a compact JSON object's top-level keys and the [start, end) character spans of their
    values in ``text`` (None when ``text`` is not one: not JSON, not an object, spaces between tokens)."""
    if not text.startswith("{") or not text.endswith("}"):
        return None
    keys, spans, pos = [], [], 1
    try:
        while pos < len(text) - 1 or (pos == 1 and len(text) > 2):
            key, colon = _DECODE(text, pos)
            if not isinstance(key, str) or text[colon : colon + 1] != ":":
                return None
            _, end = _DECODE(text, colon + 1)
            keys.append(text[pos:colon])
            spans.append((colon + 1, end))
            if text[end : end + 1] == "}" and end == len(text) - 1:
                return keys, spans
            if text[end : end + 1] != ",":
                return None
            pos = end + 1
    except ValueError:
        return None
    return (keys, spans) if text == "{}" else None


def _patch(base: str, text: str) -> str | None:
    """``text`` as a patch of ``base`` (the format ``_texts`` reads), when both are compact JSON objects with
    the same keys written the same way in the same order and the values whose text differs make a patch at
    most ``_PATCH_SHARE`` of the text; else None (the text is stored full). The splices are of text: a value
    comes back as it was written, whatever it is."""
    old, new = _values(base), _values(text)
    if old is None or new is None or old[0] != new[0]:
        return None
    splices = [  # base span -> new span, for each value whose text changed
        (b, t) for b, t in zip(old[1], new[1], strict=True) if base[b[0] : b[1]] != text[t[0] : t[1]]
    ]
    if not splices:
        return None
    while len(splices) > _SPLICES:  # join the two nearest splices (the text between is the same in both)
        i = min(range(len(splices) - 1), key=lambda j: splices[j + 1][0][0] - splices[j][0][1])
        (b1, t1), (b2, t2) = splices[i], splices[i + 1]
        splices[i : i + 2] = [((b1[0], b2[1]), (t1[0], t2[1]))]
    header, replaced, at = [], [], 0
    for (b_start, b_end), (t_start, t_end) in splices:
        replaced.append(text[t_start:t_end])
        at += t_end - t_start
        header += [b_start, b_end, at]
    end = splices[-1][0][1]
    header += [end, end, at] * (_SPLICES - len(splices))
    patch = ",".join(map(str, header)) + ":" + "".join(replaced)
    return patch if len(patch) <= _PATCH_SHARE * len(text) else None


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
