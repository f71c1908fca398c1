"""Reading in bulk changes no cell: DuckDB reads a payload (msgspec a PyPI document's release files) only where
it reads it exactly as Python's ``json`` does, and every other payload goes to Python.

Each test reads the same payloads both ways, the bulk way and the all-Python way, and compares the cells:
the hostile corpus, hand-made payloads that differ between the readers (a key given twice, a lone surrogate,
a trailing comma, deep nesting, floats and huge integers, paths through non-objects), and the real shapes.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from warehouse import enrichment, parsing
from warehouse.enrichment import (
    PYPI_FIELDS,
    REPOSITORY_FIELDS,
    _decode_projects,
    _release_file_cells,
    _release_files,
)
from warehouse.parsing import CATEGORY_FIELDS, PACKAGE_FIELDS, Field, decode_all, read_cells

HOSTILE = Path(__file__).parents[1] / "data" / "hostile"

PLAIN_PACKAGE = {
    "id": 7,
    "slug": "django-x",
    "title": "Django X ✓",
    "category": "https://djangopackages.org/api/v4/categories/1/",
    "grids": ["https://djangopackages.org/api/v4/grids/3/", 5, None],
    "repo_url": "https://github.com/a/django-x",
    "repo_watchers": 12,
    "repo_forks": -3,
    "participants": ["alice", "bob"],
    "commits_over_52": [0, 1, None, 3],
    "last_fetched": "2026-01-01T00:00:00Z",
    "is_locked": True,
}
NESTED = {"info": {"version": "1.0", "classifiers": ["A", "B"]}, "last_serial": 5, "releases": {}}


def _text(doc: object) -> str:
    return json.dumps(doc, ensure_ascii=False)


# Payloads that DuckDB and Python read differently, or that only Python can describe, each with the field
# list that reads them. The bulk reader must leave every one of these to Python (or read it the same).
ODD = [
    '{"id": 1, "id": 2, "slug": "a"}',  # a key twice: DuckDB reads the first, Python the last
    '{"id": 1, "\\u0069d": 2, "slug": "a"}',  # the same key, escaped
    '{"id": 1, "slug": "\\ud800x"}',  # a lone surrogate
    '{"id": 1, "slug": "\\ud83d\\ude00"}',  # a surrogate pair
    '{"id": 1, "slug": "a",}',  # a trailing comma: DuckDB accepts it
    '{"id": 1, "grids": [1, 2,]}',
    '{"id": NaN, "slug": "a"}',
    '{"id": Infinity}',
    '{"id": 1.0, "repo_watchers": 1e2}',
    '{"id": -0, "repo_forks": 123456789012345678901234567890}',
    '{"id": 18446744073709551615, "repo_watchers": 9223372036854775808}',
    '{"id": 1, "commits_over_52": [1, 2.5, 1E400, -0, 12345678901234567890]}',
    '{"id": 1, "commits_over_52": "1,2,3"}',
    '{"id": 1, "commits_over_52": [[1], {"a": 1}, "x", true]}',
    '{"id": 1, "participants": "alice, bob"}',
    '{"id": 1, "participants": [1, "a", null, {"b": 2}, ["c"]]}',
    '{"id": 1, "title": {"en": "x"}, "slug": ["a"]}',
    '{"id": 1, "title": "tab\\there \\u0000 nul \\u001b[2J"}',
    '{"id": 1, "title": "x\ty"}',  # a raw control character: not JSON to either
    '\ufeff{"id": 1}',
    '{"a": ' + "[" * 1500 + "]" * 1500 + "}",  # too deep for Python
    '{"a": ' + "[" * 150 + "]" * 150 + "}",
    "[1, 2]",
    "null",
    '"id"',
    "",
    "<html><body>502 Bad Gateway</body></html>",
    '{"id": 1} trailing',
    '{"id": 01}',
    '{"info": "a string", "last_serial": 1}',
    '{"info": null, "last_serial": 1}',
    '{"info": [1], "last_serial": 1}',
    '{"info": {"version": 2.0, "version": "3"}, "last_serial": 1}',
    '{"info": {"classifiers": ["A", 1, "B"]}, "releases": []}',
    '{"stargazerCount": 5, "forkCount": 1, "repositoryTopics": {"nodes": [{"topic": {"name": "a"}}, '
    '{"topic": {}}, {"topic": {"name": 2}}, 5, {"topic": {"name": "b", "name": "c"}}]}}',
    '{"stargazerCount": 5, "forkCount": 1, "repositoryTopics": {"nodes": [{"topic": {"name": "a"}}, '
    '{"topic": {"name": "b"}}]}, "licenseInfo": null, "watchers": {"totalCount": "7"}}',
    '{"stargazerCount": 5, "forkCount": 1, "repositoryTopics": {"nodes": "none"}, "licenseInfo": "MIT"}',
    '{"stargazerCount": 5, "forkCount": 1, "repositoryTopics": {"nodes": [], "nodes": [{"topic": {"name": "z"}}]}}',
    _text(PLAIN_PACKAGE),
    _text(NESTED),
    json.dumps(PLAIN_PACKAGE),  # ASCII-escaped
]


def _corpus() -> list[str]:
    return [
        line for file in sorted(HOSTILE.glob("*.jsonl")) for line in file.read_text().splitlines() if line
    ]


def _python_cells(payloads: list[str | None], fields: list[Field]) -> pl.DataFrame:
    return read_cells((doc for doc, _ in decode_all(payloads)), fields)


@pytest.mark.parametrize(
    "fields",
    [PACKAGE_FIELDS, CATEGORY_FIELDS, parsing._MEMBERSHIP_FIELDS, REPOSITORY_FIELDS, PYPI_FIELDS],
    ids=["packages", "categories", "memberships", "repositories", "pypi"],
)
def test_bulk_cells_are_the_python_cells(fields):
    payloads = [*ODD, *_corpus(), None]
    cells, unreadable = parsing._cells_of_payloads(pl.Series(payloads, dtype=pl.String), fields)
    assert_frame_equal(cells, _python_cells(payloads, fields))
    assert unreadable.to_list() == [why for _, why in decode_all(payloads)]
    bulk = set(parsing._bulk_cells(pl.Series(payloads, dtype=pl.String), fields).get_column("_row"))
    # The plain documents went the bulk way, and none of the ones the readers differ on did.
    assert {ODD.index(_text(PLAIN_PACKAGE)), ODD.index(_text(NESTED))} <= bulk
    must_be_python = [0, 1, 2, 3, 4, 5, 20] + [i for i, p in enumerate(ODD) if not p.startswith("{")]
    assert not bulk & set(must_be_python)


def test_bulk_reads_at_the_same_time_read_each_its_own_payloads():
    """The sources are read in threads of their own, each a cursor of one database: what one registers
    to read is not what another reads, however they interleave."""
    texts = {
        "packages": ([_text({**PLAIN_PACKAGE, "id": i}) for i in range(1, 400)], PACKAGE_FIELDS),
        "categories": (
            [_text({"id": i, "slug": f"c{i}", "title": "C"}) for i in range(1, 300)],
            CATEGORY_FIELDS,
        ),
        "repositories": (_corpus(), REPOSITORY_FIELDS),
    }
    alone = {name: parsing._bulk_cells(pl.Series(p, dtype=pl.String), f) for name, (p, f) in texts.items()}
    with ThreadPoolExecutor(len(texts)) as pool:
        for _ in range(5):
            together = {
                name: pool.submit(parsing._bulk_cells, pl.Series(p, dtype=pl.String), f)
                for name, (p, f) in texts.items()
            }
            for name, future in together.items():
                assert_frame_equal(future.result(), alone[name])


def test_bulk_reads_what_python_reads_in_each_odd_value():
    """Where bulk reads one of the odd payloads, each field's cell is Python's, read by itself."""
    for payload in ODD:
        for fields in (PACKAGE_FIELDS, PYPI_FIELDS, REPOSITORY_FIELDS):
            bulk = parsing._bulk_cells(pl.Series([payload], dtype=pl.String), fields)
            if bulk.height:
                assert_frame_equal(bulk.drop("_row"), _python_cells([payload], fields)), payload


RELEASES = [
    {"releases": {"1.0": [{"upload_time_iso_8601": "2020-01-01T00:00:00Z", "yanked": True}], "0.1": []}},
    {"releases": {"1.0": None, "2.0": [None, {}], "3.0": [{"requires_python": ">=3.9", "yanked": False}]}},
    {"releases": None},
    {"releases": []},
    {"info": {}},
    {"releases": {"1.0": "files", "2.0": [1, None]}},
    {"releases": {"1.0": {"yanked": True}}},
    {"releases": {"1.0": [{"upload_time_iso_8601": 20200101}]}},
    {"releases": {"\x00": [], "1.0\x1b[2J": [{"yanked": "yes"}]}},
]
RELEASE_TEXTS = [
    *(_text(doc) for doc in RELEASES),
    '{"releases": {"1.0": [{"yanked": true, "yanked": false}], "1.0": [], "2.0": [{}]}}',
    '{"releases": {"1.0": [{"upload_time_iso_8601": "\\ud800"}]}}',
    '{"releases": {"\\udfff": []}}',
    '{"releases": {"1.0": [{"yanked": NaN}]}}',
    '{"releases": {"1.0": [],}}',
    '{"releases": {"1.0": []}, "releases": {"2.0": []}}',
    "not json",
    "[]",
    None,
]


def test_release_files_in_bulk_are_the_python_files():
    texts = [*RELEASE_TEXTS, *(line for line in _corpus() if '"releases"' in line), RELEASE_TEXTS[0]]
    # the last is a second document of the first name, whose files are not read
    names = [*(f"p{i}" for i in range(len(texts) - 1)), "p1"]
    documents = pl.DataFrame(
        {"record_key": names, "payload": texts},
        schema={"record_key": pl.String, "payload": pl.String},
    )
    bulk = _release_file_cells(documents, _decode_projects(documents))
    firsts = documents.with_row_index("_row").filter(pl.col("record_key").is_first_distinct())
    items = list(_release_files(firsts, decode_all(firsts.get_column("payload").to_list())))
    python = pl.concat(
        [
            pl.DataFrame(
                {
                    "_row": [i["_row"] for i in items],
                    "pypi_name": [i["pypi_name"] for i in items],
                    "_is_file": [isinstance(i["file"], dict) for i in items],
                },
                schema={"_row": pl.UInt32, "pypi_name": pl.String, "_is_file": pl.Boolean},
            ),
            read_cells(items, enrichment._FILE_FIELDS),
        ],
        how="horizontal",
    )
    assert bulk.height > 10
    assert_frame_equal(bulk, python)


# Project documents whose cut-down text (``_decode_projects``) could read differently from the whole.
PROJECTS = [
    '{"info": {"version": "1"}, "info": {"version": "2"}, "last_serial": 3, "releases": {}}',
    '{"\\u0069nfo": {"version": "1"}, "last_\\u0073erial": 4, "releases": {}}',
    '{"info": {"version": "1", "version": "2"}, "releases": {"1": []}}',
    '{"info": {"license": "\\ud800"}, "releases": {}}',
    '{"info": {"license": "MIT"}, "releases": {"1.0": [{"yanked": NaN}]}}',
    '{"last_serial": 123456789012345678901234567890, "releases": {}}',
    '{"last_serial": 1.0, "info": {}, "releases": null}',
    '{"last_serial": -0, "info": {"requires_python": null}, "releases": {}}',
    '{"info": {}, "releases": {"1.0": []}, "last_serial": 5, "last_serial": "6"}',
    '{"info": {"version": "1"}}',
    ' {"info": {"version": "1.0e400", "classifiers": ["Framework :: Django :: 4.2", 7]}, "releases": {}} ',
    '{"info": {"a": ' + "[" * 1500 + "]" * 1500 + '}, "releases": {}}',
    '{"info": {"a": ' + "[" * 150 + "]" * 150 + '}, "releases": {"1": null}}',
    '{"info": {"version": "1"}, "releases": {"1": []}, "extra": [1, 2, {"x": NaN}]}',
    '{"info": {"version": "\\u00e9t\\u00e9"}, "releases": {}} trailing',
    '{"info": [], "releases": {}}',
    '{"info": "a", "last_serial": {}, "releases": {}}',
    '{"info": {"license": "a\tb"}, "releases": {}}',  # a raw control character: not JSON to either
    '{"info": {"version": "1",}, "releases": {}}',
    '{"info": {"version": 1e400, "license": 01}, "releases": {}}',
]


def test_project_fields_read_from_the_cut_down_document_are_those_of_the_whole():
    payloads = [*PROJECTS, *ODD, *RELEASE_TEXTS, *_corpus()]
    documents = pl.DataFrame(
        {"record_key": [f"p{i}" for i in range(len(payloads))], "payload": payloads},
        schema={"record_key": pl.String, "payload": pl.String},
    )
    texts = _decode_projects(documents).texts
    # Most were cut down (those msgspec refuses keep their payload), and each reads as its whole document.
    assert sum(t != p for t, p in zip(texts, payloads, strict=True) if p is not None) > len(PROJECTS) // 2
    cells, unreadable = parsing._cells_of_payloads(texts, PYPI_FIELDS)
    assert_frame_equal(cells, _python_cells(payloads, PYPI_FIELDS))
    assert unreadable.to_list() == [why for _, why in decode_all(payloads)]
