"""Raw storage: every document is stored once (raw_documents), referenced by the raw rows of every date that
received it, and read back exactly as received; a document differing from its record's latest full document in
a few top-level values is stored as a patch of it, kept only when the readers' reconstruction gives the text
byte for byte; replacing a date never loses a document another date references (as a row's or as a patch's
base) nor leaves one nobody does; a warehouse from before migration 006 upgrades with every row intact."""

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


def bases(wh: Warehouse) -> list[tuple[int, int | None]]:
    """Each document and its base (None: stored full); and every base is there, and full."""
    assert wh.row(
        "SELECT count(*) FROM raw_documents d WHERE base_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM raw_documents b WHERE b.document_id = d.base_id AND b.base_id IS NULL)"
    ) == (0,)
    return wh.query("SELECT document_id, base_id FROM raw_documents ORDER BY 1").rows()


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
    with pytest.raises(pa.errors.SchemaError, match="extra"):  # strict: no column beyond the fields
        RawDocument.validate(docs.with_columns(extra=pl.lit(1)))
    with pytest.raises(pa.errors.SchemaError, match="extra"):
        RawRecord.validate(rows.with_columns(extra=pl.lit(1)))


def test_the_contract_refuses_a_patch_whose_base_is_missing_or_a_patch(warehouse):
    for day, record in ((D1, BASE), (D2, {**BASE, "last_fetched": FETCHED_2}), (D3, {**BASE, "stars": 1})):
        warehouse.replace_partitions(
            day, {"raw_records": raw.raw_frame(day, PACKAGES, [("1", "ok", record)])}
        )
    docs = warehouse.query("SELECT * FROM raw_documents ORDER BY document_id")
    assert bases(warehouse) == [(1, None), (2, 1), (3, None)]
    assert validate(RawDocument, docs).failures.height == 0
    missing = docs.filter(pl.col("document_id") != 1)  # the base gone
    on_a_patch = docs.with_columns(base_id=pl.when(pl.col("document_id") == 2).then(2).cast(pl.Int64))
    for broken in (missing, on_a_patch):
        failures = validate(RawDocument, broken).failures
        assert failures.get_column("reason").str.contains("another, full document").any(), failures


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


# A package record as djangopackages lists it; its last_fetched moves every day.
BASE = {
    "id": 1,
    "title": "django-x",
    "last_fetched": "2026-05-01T03:00:00.000001Z",
    "repo_watchers": 10,
    "description": "A long enough description for Django.",
}
BASE_TEXT = (
    '{"id":1,"title":"django-x","last_fetched":"2026-05-01T03:00:00.000001Z","repo_watchers":10,'
    '"description":"A long enough description for Django."}'
)
FETCHED_2 = "2026-05-02T03:00:00.000001Z"


def two_days(wh: Warehouse, second: dict | str) -> tuple[str, str]:
    """BASE on D1 and ``second`` (a record, or a text as received) on D2 under the same key; both texts."""
    wh.replace_partitions(D1, {"raw_records": raw.raw_frame(D1, PACKAGES, [("1", "ok", BASE)])})
    frame = (
        raw.raw_frame(D2, PACKAGES, [("1", "ok", second)])
        if isinstance(second, dict)
        else raw.raw_frame(D2, PACKAGES, [("1", "ok", None)]).with_columns(payload=pl.lit(second))
    )
    wh.replace_partitions(D2, {"raw_records": frame})
    return BASE_TEXT, frame.item(0, "payload")


def read_back(wh: Warehouse, day: date) -> list[str]:
    """A date's payloads through every reader: read_raw, raw_rows, RAW_TEXT (all must agree)."""
    texts = raw.read_raw(wh, day, PACKAGES).get_column("payload").to_list()
    assert raw.raw_rows(wh, day, [PACKAGES]).get_column("payload").to_list() == texts
    sql = wh.query(
        f"SELECT payload FROM {raw.RAW_TEXT} r WHERE snapshot_date = $d AND source = $s ORDER BY record_key",
        {"d": day, "s": PACKAGES},
    )
    assert sql.get_column("payload").to_list() == texts
    return texts


def test_a_document_differing_in_one_value_is_a_patch_read_back_exactly_on_both_dates(warehouse):
    base, text = two_days(warehouse, {**BASE, "last_fetched": FETCHED_2})
    assert base == BASE_TEXT
    assert text == BASE_TEXT.replace("2026-05-01T03", "2026-05-02T03")
    # The value of last_fetched, characters [42, 71) of the base, replaced; three unused splices.
    assert documents(warehouse) == [
        (1, BASE_TEXT),
        (2, '42,71,29,71,71,29,71,71,29,71,71,29:"2026-05-02T03:00:00.000001Z"'),
    ]
    assert bases(warehouse) == [(1, None), (2, 1)]
    # The digest is the full text's: the same text again references the patch.
    assert warehouse.row("SELECT digest FROM raw_documents WHERE document_id = 2") == (
        warehouse.row("SELECT left(sha256(?), 32)", [text])
    )
    assert read_back(warehouse, D1) == [base]
    assert read_back(warehouse, D2) == [text]
    warehouse.replace_partitions(
        D3, {"raw_records": raw.raw_frame(D3, PACKAGES, [("1", "ok", {**BASE, "last_fetched": FETCHED_2})])}
    )
    assert len(documents(warehouse)) == 2
    assert raw.latest_documents(warehouse, PACKAGES, D3, ["ok"]).rows() == [("1", "ok", text, None)]


def test_a_patch_is_against_the_latest_full_document_and_spans_several_values(warehouse):
    two_days(warehouse, {**BASE, "last_fetched": FETCHED_2})
    third = {**BASE, "last_fetched": "2026-05-03T03:00:00.000001Z", "repo_watchers": 12}
    warehouse.replace_partitions(D3, {"raw_records": raw.raw_frame(D3, PACKAGES, [("1", "ok", third)])})
    assert bases(warehouse) == [(1, None), (2, 1), (3, 1)]  # against D1's full text, not D2's patch
    assert documents(warehouse)[2] == (
        3,
        '42,71,29,88,90,31,90,90,31,90,90,31:"2026-05-03T03:00:00.000001Z"12',
    )
    assert read_back(warehouse, D3) == [raw.raw_frame(D3, PACKAGES, [("1", "ok", third)]).item(0, "payload")]


@pytest.mark.parametrize(
    "second",
    [
        {**BASE, "description": None},  # a value to null: spliced like any other
        {**BASE, "title": "café ☃ 😀 e\u0301"},  # characters of 2, 3 and 4 UTF-8 bytes: offsets in characters
        {**BASE, "title": "\ud800 alone"},  # a lone surrogate, stored as its JSON escape (6 characters)
        {**BASE, "id": 123456789012345678901234567890, "repo_watchers": 0.1},  # a big int, a float
        {**BASE, "title": {"nested": [1, {"x": "y"}]}},
        BASE_TEXT.replace("10", "1.50E+1"),  # a number as received, not as Python or DuckDB would write it
    ],
    ids=["null", "unicode", "surrogate", "numbers", "nested", "number-text"],
)
def test_values_of_any_kind_are_patched_and_read_back_exactly(warehouse, second):
    base, text = two_days(warehouse, second)
    assert bases(warehouse) == [(1, None), (2, 1)]
    assert read_back(warehouse, D1) == [base]
    assert read_back(warehouse, D2) == [text]


@pytest.mark.parametrize(
    "second",
    [
        {**BASE, "last_fetched": FETCHED_2, "new": 1},  # a key added
        {k: v for k, v in BASE.items() if k != "repo_watchers"},  # a key removed
        {
            "title": "django-x",
            "id": 1,
            **{k: v for k, v in BASE.items() if k not in ("id", "title")},
        },  # reordered
        {
            **BASE,
            "description": "Another description, as long as the first one, or about.",
        },  # over half the text
        BASE_TEXT.replace('"id":1', '"id":1,"id":2'),  # a key twice
        BASE_TEXT.replace(":", ": "),  # not compact
        BASE_TEXT[:-1],  # not JSON
        "[" + BASE_TEXT + "]",  # not an object
    ],
    ids=["added", "removed", "reordered", "large", "duplicate", "spaces", "not-json", "array"],
)
def test_a_document_that_is_not_a_few_changed_values_is_stored_full(warehouse, second):
    base, text = two_days(warehouse, second)
    assert text != base
    assert documents(warehouse) == [(1, base), (2, text)]
    assert bases(warehouse) == [(1, None), (2, None)]
    assert read_back(warehouse, D2) == [text]


def test_a_patch_the_reconstruction_does_not_turn_into_the_text_is_stored_full(warehouse, monkeypatch):
    """The write's check: whatever the patch proposed, only one the readers' SQL rebuilds exactly is kept."""
    right = raw._patch
    monkeypatch.setattr(raw, "_patch", lambda base, text: right(base, text).replace("42,71", "42,70"))
    base, text = two_days(warehouse, {**BASE, "last_fetched": FETCHED_2})
    assert bases(warehouse) == [(1, None), (2, None)]
    assert read_back(warehouse, D2) == [text]
    monkeypatch.setattr(raw, "_patch", right)
    warehouse.replace_partitions(
        D3, {"raw_records": raw.raw_frame(D3, PACKAGES, [("1", "ok", {**BASE, "repo_watchers": 11})])}
    )
    assert bases(warehouse)[-1] == (3, 2)  # against D2's full text now: the latest full document


def test_a_base_stays_while_a_patch_uses_it_and_goes_with_the_last(warehouse):
    base, text = two_days(warehouse, {**BASE, "last_fetched": FETCHED_2})
    other = {**BASE, "repo_watchers": 11}
    warehouse.replace_partitions(D3, {"raw_records": raw.raw_frame(D3, PACKAGES, [("1", "ok", other)])})
    assert bases(warehouse) == [(1, None), (2, 1), (3, 1)]
    # D1 replaced with nothing: its document no row references, but two patches are based on it.
    warehouse.replace_partitions(D1, {"raw_records": raw.raw_frame(D1, PACKAGES, [])})
    assert bases(warehouse) == [(1, None), (2, 1), (3, 1)]
    assert read_back(warehouse, D2) == [text]
    # D2 captured again, differently: its patch goes, the base stays for D3's.
    warehouse.replace_partitions(D2, {"raw_records": raw.raw_frame(D2, PACKAGES, [("2", "ok", {"id": 2})])})
    assert bases(warehouse) == [(1, None), (3, 1), (4, None)]
    assert read_back(warehouse, D3) == [raw.raw_frame(D3, PACKAGES, [("1", "ok", other)]).item(0, "payload")]
    # D3 emptied: its patch goes and with it the base nothing else uses.
    warehouse.replace_partitions(D3, {"raw_records": raw.raw_frame(D3, PACKAGES, [])})
    assert bases(warehouse) == [(4, None)]


def test_the_deletion_check_sees_a_lost_base(warehouse):
    """What the tests above check (every base there) fails when a base is deleted under its patch."""
    two_days(warehouse, {**BASE, "last_fetched": FETCHED_2})
    warehouse.conn.execute("DELETE FROM raw_documents WHERE document_id = 1")
    with pytest.raises(AssertionError):
        bases(warehouse)


def test_a_staging_file_is_published_against_the_warehouse_documents_of_the_moment(tmp_path: Path):
    """A staged patch's base is the staging file's; the warehouse, meanwhile written, numbers its documents
    otherwise and has a newer full document for the key: the published text is the staged one, patched
    against the warehouse's own latest full document."""
    main, staged = tmp_path / "w.duckdb", tmp_path / "staged.duckdb"
    newer = {**BASE, "repo_watchers": 11}
    with Warehouse(staged) as wh:
        two_days(wh, {**BASE, "last_fetched": FETCHED_2})
        assert bases(wh) == [(1, None), (2, 1)]
        text = read_back(wh, D2)[0]
    with Warehouse(main) as wh:
        wh.replace_partitions(D1, {"raw_records": raw.raw_frame(D1, PYPI, [("p", "ok", {"v": 1})])})
        old = {"id": 1, "title": "django-x"}  # keys of its own: the next document is stored full
        wh.replace_partitions(
            D1,
            {"raw_records": raw.raw_frame(D1, PACKAGES, [("1", "ok", old)])},
            scope={"raw_records": ("source", [PACKAGES])},
        )
        wh.replace_partitions(D3, {"raw_records": raw.raw_frame(D3, PACKAGES, [("1", "ok", newer)])})
        assert bases(wh) == [(1, None), (2, None), (3, None)]
    for _ in range(2):  # a second publication changes nothing
        assert staging.publish(main, staged, D2, "run-1", {}, tables=("raw_records",)) == {"raw_records": 1}
        with Warehouse(main, read_only=True) as wh:
            assert bases(wh) == [(1, None), (2, None), (3, None), (4, 3)]  # D3's text is the latest full one
            assert read_back(wh, D2) == [text]
            assert read_back(wh, D1) == ['{"id":1,"title":"django-x"}']
            assert read_back(wh, D3) == [raw.raw_frame(D3, PACKAGES, [("1", "ok", newer)]).item(0, "payload")]


def test_a_seeded_recompute_reads_the_patched_rows_it_was_given(tmp_path: Path):
    main, staged = tmp_path / "w.duckdb", tmp_path / "staged.duckdb"
    with Warehouse(main) as wh:
        two_days(wh, {**BASE, "last_fetched": FETCHED_2})
        expected = stored(wh, D2)
    with Warehouse(staged) as wh:
        assert staging.seed(wh, main, D2)["raw_records"] == 1
        assert stored(wh, D2) == expected
        assert bases(wh) == [(1, None)]  # alone in the staging file, the document is stored full


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
        assert {b for _, b in bases(wh)} == {None}  # moved full
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


@pytest.mark.parametrize("stored_order", [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 5, 0, 3, 1, 4]])
def test_read_raw_gives_copies_under_one_key_in_one_order_whatever_order_they_were_stored_in(
    warehouse, stored_order
):
    # By key, then text compared by its bytes (é after z), then status; a missing text last.
    copies = [
        ("a", "ok", {"id": 1}),
        ("b", "failed", None),
        ("b", "ok", {"id": 2, "t": "z"}),
        ("b", "missing", {"id": 2, "t": "é"}),
        ("b", "ok", {"id": 2, "t": "é"}),
        ("c", "ok", {"id": 3}),
    ]
    warehouse.replace_partitions(
        D1, {"raw_records": raw.raw_frame(D1, PACKAGES, [copies[i] for i in stored_order])}
    )
    read = raw.read_raw(warehouse, D1, PACKAGES).rows()
    texts = raw.raw_frame(D1, PACKAGES, copies).select("record_key", "status", "payload").rows()
    assert read == [texts[i] for i in (0, 2, 3, 4, 1, 5)]


def test_read_raw_gives_keys_given_once_in_key_order(warehouse):
    # No key twice, so no texts compared: the order is the keys' alone, by their bytes.
    copies = [("é", "ok", {"id": 4}), ("b", "failed", None), ("a", "ok", {"id": 1}), ("z", "ok", {"id": 3})]
    warehouse.replace_partitions(D1, {"raw_records": raw.raw_frame(D1, PACKAGES, copies)})
    assert [key for key, _, _ in raw.read_raw(warehouse, D1, PACKAGES).rows()] == ["a", "b", "z", "é"]


def test_read_raws_reads_each_source_of_a_date_as_read_raw_does(warehouse):
    for day, doc in ((D1, {"id": 1}), (D2, {"id": 2})):
        warehouse.replace_partitions(
            day,
            {
                "raw_records": pl.concat(
                    [
                        raw.raw_frame(
                            day, PACKAGES, [("b", "ok", doc), ("a", "ok", {"id": 0}), ("a", "failed", None)]
                        ),
                        raw.raw_frame(day, PYPI, [("django-x", "ok", DJANGO)]),
                    ]
                )
            },
        )
    read = raw.read_raws(warehouse, D2, [PYPI, PACKAGES, "github/repository"])
    assert list(read) == [PYPI, PACKAGES, "github/repository"]
    assert read[PACKAGES].rows() == [("a", "ok", '{"id":0}'), ("a", "failed", None), ("b", "ok", '{"id":2}')]
    for source, frame in read.items():
        assert frame.equals(raw.read_raw(warehouse, D2, source))
    assert read["github/repository"].schema == read[PYPI].schema and read["github/repository"].height == 0
    assert raw.read_raws(warehouse, date(2026, 6, 1), [PYPI])[PYPI].schema == read[PYPI].schema
