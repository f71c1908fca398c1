"""Raw storage: every document is stored once (raw_documents), referenced by the raw rows of every date that
received it, and read back exactly as received; replacing a date never loses a document another date
references nor leaves one nobody does; a warehouse from before migration 006 upgrades with every row intact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl
import pytest

from warehouse import raw, staging
from warehouse.contracts import RawDocument, RawRecord, validate
from warehouse.store import Warehouse, migrations

D1, D2, D3 = date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)
PYPI, PACKAGES = "pypi/project", "djangopackages/packages"
DJANGO = {"info": {"name": "django-x", "version": "1.0"}, "last_serial": 7}


def documents(wh: Warehouse) -> list[tuple[int, str]]:
    return wh.query("SELECT document_id, payload FROM raw_documents ORDER BY 1").rows()


def stored(wh: Warehouse, day: date) -> list[tuple]:
    """Every raw row of a date with its payload text, as stored."""
    return raw.raw_rows(wh, day).drop("snapshot_date").rows()


def test_the_same_document_on_two_dates_is_stored_once_and_read_back_for_both(warehouse):
    for day in (D1, D2):
        warehouse.replace_partitions(
            day, {"raw_records": raw.raw_frame(day, PYPI, [("django-x", "ok", DJANGO)])}
        )
    text = '{"info":{"name":"django-x","version":"1.0"},"last_serial":7}'
    assert documents(warehouse) == [(1, text)]
    for day in (D1, D2):
        assert raw.read_raw(warehouse, day, PYPI).rows() == [("django-x", "ok", text)]
    assert warehouse.query("SELECT snapshot_date, document_id FROM raw_records ORDER BY 1").rows() == [
        (D1, 1),
        (D2, 1),
    ]


def test_one_document_under_two_keys_of_one_date_is_stored_once(warehouse):
    frame = raw.raw_frame(
        D1, PACKAGES, [("1", "ok", {"id": 1}), ("1", "ok", {"id": 1}), ("2", "ok", {"id": 1})]
    )
    warehouse.replace_partitions(D1, {"raw_records": frame})
    assert documents(warehouse) == [(1, '{"id":1}')]
    assert stored(warehouse, D1) == [(PACKAGES, k, "ok", '{"id":1}') for k in ("1", "1", "2")]


def test_a_changed_document_is_stored_again(warehouse):
    changed = {**DJANGO, "last_serial": 8}
    warehouse.replace_partitions(D1, {"raw_records": raw.raw_frame(D1, PYPI, [("django-x", "ok", DJANGO)])})
    warehouse.replace_partitions(D2, {"raw_records": raw.raw_frame(D2, PYPI, [("django-x", "ok", changed)])})
    assert [p for _, p in documents(warehouse)] == [
        '{"info":{"name":"django-x","version":"1.0"},"last_serial":7}',
        '{"info":{"name":"django-x","version":"1.0"},"last_serial":8}',
    ]
    assert (
        raw.read_raw(warehouse, D1, PYPI).get_column("payload").to_list()
        != raw.read_raw(warehouse, D2, PYPI).get_column("payload").to_list()
    )


def test_rows_without_a_payload_reference_no_document(warehouse):
    frame = raw.raw_frame(D1, PYPI, [("gone", "missing", None), ("x", "ok", [])])
    warehouse.replace_partitions(D1, {"raw_records": frame})
    assert stored(warehouse, D1) == [(PYPI, "gone", "missing", None), (PYPI, "x", "ok", "[]")]
    assert warehouse.row("SELECT count(*) FROM raw_records WHERE document_id IS NULL")[0] == 1
    assert documents(warehouse) == [(1, "[]")]


def test_rewriting_a_date_with_the_same_rows_leaves_everything_identical(warehouse):
    frame = raw.raw_frame(
        D1, PACKAGES, [("1", "ok", {"id": 1}), ("2", "ok", {"id": 2}), ("3", "failed", None)]
    )
    warehouse.replace_partitions(D1, {"raw_records": frame})
    before = (
        warehouse.query("SELECT * FROM raw_records").rows(),
        documents(warehouse),
        stored(warehouse, D1),
    )
    for _ in range(3):
        warehouse.replace_partitions(
            D1, {"raw_records": frame}, scope={"raw_records": ("source", [PACKAGES])}
        )
    after = (warehouse.query("SELECT * FROM raw_records").rows(), documents(warehouse), stored(warehouse, D1))
    assert after == before


def test_replacing_a_date_deletes_only_documents_nobody_else_references(warehouse):
    shared, own = {"id": 1, "stars": 5}, {"id": 2, "stars": 9}
    warehouse.replace_partitions(D1, {"raw_records": raw.raw_frame(D1, PACKAGES, [("1", "ok", shared)])})
    warehouse.replace_partitions(
        D2, {"raw_records": raw.raw_frame(D2, PACKAGES, [("1", "ok", shared), ("2", "ok", own)])}
    )
    # D2 captured again: the package 2 answers differently; its old document was D2's alone.
    warehouse.replace_partitions(
        D2, {"raw_records": raw.raw_frame(D2, PACKAGES, [("1", "ok", shared), ("2", "ok", {"id": 2})])}
    )
    assert [p for _, p in documents(warehouse)] == ['{"id":1,"stars":5}', '{"id":2}']
    assert stored(warehouse, D1) == [(PACKAGES, "1", "ok", '{"id":1,"stars":5}')]
    assert stored(warehouse, D2) == [
        (PACKAGES, "1", "ok", '{"id":1,"stars":5}'),
        (PACKAGES, "2", "ok", '{"id":2}'),
    ]
    # And replacing D1 with nothing keeps the document D2 still references.
    warehouse.replace_partitions(D1, {"raw_records": raw.raw_frame(D1, PACKAGES, [])})
    assert [p for _, p in documents(warehouse)] == ['{"id":1,"stars":5}', '{"id":2}']
    assert stored(warehouse, D1) == []


def test_a_scoped_write_keeps_the_other_sources_of_the_date(warehouse):
    warehouse.replace_partitions(
        D1,
        {
            "raw_records": pl.concat(
                [
                    raw.raw_frame(D1, PYPI, [("x", "ok", {"a": 1})]),
                    raw.raw_frame(D1, PACKAGES, [("1", "ok", {"a": 1})]),
                ]
            )
        },
    )
    warehouse.replace_partitions(
        D1, {"raw_records": raw.raw_frame(D1, PYPI, [])}, scope={"raw_records": ("source", [PYPI])}
    )
    assert stored(warehouse, D1) == [(PACKAGES, "1", "ok", '{"a":1}')]
    assert documents(warehouse) == [(1, '{"a":1}')]


def test_a_bad_raw_frame_is_refused_before_anything_is_written(warehouse):
    with pytest.raises(ValueError, match="raw rows for"):
        raw.replace_raw(warehouse, D2, raw.raw_frame(D1, PYPI, [("x", "ok", 1)]))
    with pytest.raises(ValueError, match="needs the columns"):
        raw.replace_raw(warehouse, D1, raw.raw_frame(D1, PYPI, [("x", "ok", 1)]).drop("status"))
    assert warehouse.row("SELECT count(*) FROM raw_documents")[0] == 0


def test_the_contracts_accept_stored_rows_and_refuse_bad_ones(warehouse):
    warehouse.replace_partitions(
        D1, {"raw_records": raw.raw_frame(D1, PYPI, [("x", "ok", 1), ("y", "weird", 2)])}
    )
    rows = warehouse.partition("raw_records", D1)
    failures = validate(RawRecord, rows).failures
    assert failures.select("row", "field").rows() == [(1, "status")]
    docs = warehouse.query("SELECT * FROM raw_documents")
    assert validate(RawDocument, docs).failures.height == 0
    with pytest.raises(pa.errors.SchemaError, match="unique"):  # a document twice
        RawDocument.validate(pl.concat([docs, docs]))


def test_publishing_copies_only_documents_the_warehouse_lacks(tmp_path: Path):
    main, staged = tmp_path / "w.duckdb", tmp_path / "staged.duckdb"
    with Warehouse(main) as wh:
        wh.replace_partitions(
            D1, {"raw_records": raw.raw_frame(D1, PYPI, [("a", "ok", {"v": 1}), ("b", "ok", {"v": 2})])}
        )
    day = [("a", "unchanged", {"v": 1}), ("b", "ok", {"v": 3}), ("c", "missing", None)]
    with Warehouse(staged) as wh:
        wh.replace_partitions(D2, {"raw_records": raw.raw_frame(D2, PYPI, [("z", "ok", {"old": True})])})
        wh.replace_partitions(D2, {"raw_records": raw.raw_frame(D2, PYPI, day)})
    for _ in range(2):  # a second publication of the same capture changes nothing
        written = staging.publish(main, staged, D2, "run-1", {}, tables=("raw_records",))
        assert written == {"raw_records": 3}
        with Warehouse(main, read_only=True) as wh:
            assert [p for _, p in documents(wh)] == ['{"v":1}', '{"v":2}', '{"v":3}']
            assert stored(wh, D2) == [
                (PYPI, "a", "unchanged", '{"v":1}'),
                (PYPI, "b", "ok", '{"v":3}'),
                (PYPI, "c", "missing", None),
            ]
            assert stored(wh, D1) == [(PYPI, "a", "ok", '{"v":1}'), (PYPI, "b", "ok", '{"v":2}')]


def test_a_recompute_seeds_the_same_rows_it_reads(tmp_path: Path):
    main, staged = tmp_path / "w.duckdb", tmp_path / "staged.duckdb"
    frame = raw.raw_frame(
        D1, PACKAGES, [("2", "ok", {"id": 2}), ("1", "ok", {"id": 1}), ("3", "invalid", None)]
    )
    with Warehouse(main) as wh:
        wh.replace_partitions(D1, {"raw_records": frame})
        expected = stored(wh, D1)
    with Warehouse(staged) as wh:
        assert staging.seed(wh, main, D1)["raw_records"] == 3
        assert stored(wh, D1) == expected
        assert raw.raw_rows(wh, D1).equals(frame)


def test_the_latest_documents_before_a_date(warehouse):
    warehouse.replace_partitions(
        D1, {"raw_records": raw.raw_frame(D1, PYPI, [("a", "ok", {"last_serial": 1})])}
    )
    warehouse.replace_partitions(
        D2,
        {
            "raw_records": raw.raw_frame(
                D2, PYPI, [("a", "unchanged", {"last_serial": 1}), ("b", "missing", None)]
            )
        },
    )
    warehouse.replace_partitions(
        D3, {"raw_records": raw.raw_frame(D3, PYPI, [("a", "ok", {"last_serial": 2})])}
    )
    found = raw.latest_documents(warehouse, PYPI, D3, ["ok", "unchanged"])
    assert found.rows() == [("a", "unchanged", '{"last_serial":1}', 1)]


def test_a_date_rewritten_five_times_does_not_grow_the_file(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    frame = raw.raw_frame(
        D1, PACKAGES, [(str(i), "ok", {"id": i, "text": "x" * (i % 500)}) for i in range(3000)]
    )
    sizes = []
    for _ in range(6):
        with Warehouse(path) as wh:
            wh.replace_partitions(D1, {"raw_records": frame})
            wh.conn.execute("CHECKPOINT")
        sizes.append(path.stat().st_size)
    assert max(sizes[1:]) == sizes[1], sizes


# The schema before migration 006: payload text in every raw row.
LEGACY_ROWS = [
    (D1, PACKAGES, "1", "ok", '{"id":1,"title":"café ☃"}'),
    (D1, PACKAGES, "2", "ok", '{"id":2,"title":"\\ud800 alone"}'),  # a lone surrogate, as its JSON escape
    (D1, PACKAGES, "2", "ok", '{"id":2,"title":"\\ud800 alone"}'),  # a duplicate under one key
    (D1, PYPI, "gone", "missing", None),
    (D1, "djangopackages/pages", "/api/v4/packages/", "invalid", "not json at all"),
    (D2, PACKAGES, "1", "ok", '{"id":1,"title":"café ☃"}'),  # unchanged on the next date
    (D2, PACKAGES, "2", "ok", '{"id":2,"title":"changed"}'),
    (D2, PYPI, "gone", "missing", None),
    (D2, PYPI, "x", "ok", ""),  # an empty text is a document too
]


def legacy(path: Path) -> None:
    conn = duckdb.connect(str(path))
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL)"
    )
    for version, name, sql in migrations():
        if version < 6:
            conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    assert [
        c
        for (c,) in conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'raw_records'"
        ).fetchall()
    ][-1] == "payload"
    conn.executemany("INSERT INTO raw_records VALUES (?, ?, ?, ?, ?)", [list(r) for r in LEGACY_ROWS])
    conn.close()


def test_a_warehouse_from_before_006_upgrades_with_every_row_intact(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    legacy(path)
    with Warehouse(path) as wh:
        assert 6 in wh.query("SELECT version FROM schema_migrations").get_column("version").to_list()
        assert "payload" not in wh.columns("raw_records")
        back = sorted((d, *row) for d in (D1, D2) for row in stored(wh, d))
        assert back == sorted(LEGACY_ROWS)
        # Each distinct text once; the writer's digest is the migration's: the same text written again
        # references the stored document.
        assert sorted(p for _, p in documents(wh)) == sorted({r[4] for r in LEGACY_ROWS if r[4] is not None})
        count = len(documents(wh))
        wh.replace_partitions(
            D3, {"raw_records": raw.raw_frame(D3, PACKAGES, [("1", "ok", {"id": 1, "title": "café ☃"})])}
        )
        assert len(documents(wh)) == count
        assert raw.read_raw(wh, D3, PACKAGES).rows() == [("1", "ok", '{"id":1,"title":"café ☃"}')]


def test_an_upgrade_check_sees_a_lost_row(tmp_path: Path):
    """The comparison the upgrade test makes fails when the migration loses or changes a row."""
    path = tmp_path / "w.duckdb"
    legacy(path)
    with Warehouse(path) as wh:
        wh.conn.execute(
            "UPDATE raw_records SET document_id = NULL WHERE snapshot_date = ? AND record_key = '1'", [D2]
        )
        back = sorted((d, *row) for d in (D1, D2) for row in stored(wh, d))
    assert back != sorted(LEGACY_ROWS)
