"""What the raw assets ask the sources for, on tiny hand-built inputs: linked_repositories (which GitHub
repositories, with what djangopackages knew of them) and pypi_records (which PyPI documents are fetched, kept
or missing)."""

import json
from datetime import UTC, date, datetime

import polars as pl

from assets.raw import linked_repositories, pypi_records
from assets.sources.pypi import ProjectResult

DAY = date(2026, 5, 4)


def test_linked_repositories_one_row_per_repository_with_its_oldest_fetch_and_any_missing_weeks():
    may1, apr1, may2 = (datetime(2026, m, d, tzinfo=UTC) for m, d in ((5, 1), (4, 1), (5, 2)))
    packages = pl.DataFrame(
        {
            "package_id": [1, 2, 3, 4],
            "repo_full_name": ["a/x", "b/y", "a/x", None],
            "last_fetched_at": [may1, may2, apr1, may1],
            "commits_over_52": [[1] * 52, [0] * 52, None, None],
        }
    )
    assert linked_repositories(packages).rows() == [("a/x", apr1, True), ("b/y", may2, False)]
    assert linked_repositories(packages.head(0)).rows() == []


class FakePyPI:
    """The two calls pypi_records makes, answering from dicts and remembering what was fetched."""

    def __init__(self, serials: dict[str, int], docs: dict[str, ProjectResult]) -> None:
        self._serials, self._docs, self.fetched = serials, docs, []

    def serials(self) -> dict[str, int]:
        return self._serials

    def projects(self, names):
        names = list(names)
        self.fetched.append(names)
        return {n: self._docs[n] for n in names}


PREVIOUS_SCHEMA = {"name": pl.String, "status": pl.String, "payload": pl.String, "serial": pl.Int64}


def test_pypi_records_on_a_first_day_fetches_every_project_and_keeps_a_failure_with_its_reason():
    client = FakePyPI(
        {},
        {
            "a": ProjectResult("ok", {"last_serial": 5}),
            "b": ProjectResult("missing", None),
            "c": ProjectResult("failed", None, "HTTP 503 after 4 attempts"),
        },
    )
    rows = pypi_records(client, DAY, ["a", "b", "c"], pl.DataFrame(schema=PREVIOUS_SCHEMA))
    assert client.fetched == [["a", "b", "c"]]
    assert rows.rows() == [
        (DAY, "pypi/project", "a", "ok", '{"last_serial":5}'),
        (DAY, "pypi/project", "b", "missing", None),
        (DAY, "pypi/project", "c", "failed", '{"error":"HTTP 503 after 4 attempts"}'),
    ]


def test_pypi_records_on_a_warm_day_fetches_only_moved_serials():
    stored = {"last_serial": 5, "info": {"version": "1.0"}}
    previous = pl.DataFrame(
        {
            "name": ["a", "b"],
            "status": ["ok", "ok"],
            "payload": [json.dumps(stored), json.dumps({"last_serial": 6})],
            "serial": [5, 6],
        },
        schema=PREVIOUS_SCHEMA,
    )
    # a: same serial (kept); b: moved (fetched); c: new (fetched); d: not in the index (missing).
    client = FakePyPI(
        {"a": 5, "b": 7, "c": 1},
        {"b": ProjectResult("ok", {"last_serial": 7}), "c": ProjectResult("ok", {"last_serial": 1})},
    )
    rows = pypi_records(client, DAY, ["a", "b", "c", "d"], previous)
    assert client.fetched == [["b", "c"]]
    assert rows.select("record_key", "status", "payload").rows() == [
        ("a", "unchanged", '{"last_serial":5,"info":{"version":"1.0"}}'),
        ("b", "ok", '{"last_serial":7}'),
        ("c", "ok", '{"last_serial":1}'),
        ("d", "missing", None),
    ]
    assert rows.get_column("snapshot_date").unique().to_list() == [DAY]
