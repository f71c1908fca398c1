import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from warehouse.enrichment import parse_pypi, parse_repositories
from warehouse.raw import raw_frame

DAY = date(2026, 2, 17)

NODE = {
    "databaseId": 42,
    "nameWithOwner": "Owner/Repo",
    "stargazerCount": 120,
    "forkCount": 7,
    "watchers": {"totalCount": 9},
    "issues": {"totalCount": 3},
    "pullRequests": {"totalCount": 2},
    "pushedAt": "2026-02-10T08:00:00Z",
    "createdAt": "2015-01-01T00:00:00Z",
    "isArchived": False,
    "isDisabled": False,
    "licenseInfo": {"spdxId": "MIT"},
    "defaultBranchRef": {"name": "main"},
    "repositoryTopics": {"nodes": [{"topic": {"name": "django"}}, {"topic": {"name": "forms"}}]},
}

DOC = {
    "info": {
        "version": "2.0",
        "requires_python": ">=3.9",
        "license_expression": None,
        "license": "BSD",
        "classifiers": [
            "Framework :: Django :: 5.2",
            "Framework :: Django :: 4.10",
            "Framework :: Django :: 4.2",
            "Framework :: Django",
        ],
    },
    "last_serial": 99,
    "releases": {
        "1.0": [
            {"upload_time_iso_8601": "2020-01-02T00:00:00Z", "yanked": True},
            {"upload_time_iso_8601": "2020-01-01T00:00:00Z", "yanked": True, "requires_python": ">=3.6"},
        ],
        "2.0": [{"upload_time_iso_8601": "2025-06-01T12:00:00.5Z", "yanked": False}],
        "0.1": [],
    },
}


def _repos(*rows):
    return raw_frame(DAY, "github/repository", rows)


def _participation(*rows):
    return raw_frame(DAY, "github/participation", rows)


def test_repository_nodes_and_every_status_become_rows():
    parsed = parse_repositories(
        _repos(
            ("owner/repo", "ok", NODE),
            ("gone/repo", "missing", None),
            ("hidden/repo", "blocked", {"type": "FORBIDDEN", "message": "blocked"}),
            ("slow/repo", "failed", {"error": "HTTP 502 after 4 attempts"}),
        ),
        _participation(
            ("owner/repo", "ok", {"all": [1] * 52, "owner": [0] * 52}),
            ("hidden/repo", "pending", None),
            ("slow/repo", "failed", {"error": "timed out"}),
        ),
        DAY,
    )
    assert parsed.counts == {"fetched": 4, "accepted": 4, "repaired": 0, "rejected": 0}
    rows = {r["full_name"]: r for r in parsed.accepted.iter_rows(named=True)}
    ok = rows["owner/repo"]
    assert (ok["github_id"], ok["stars"], ok["forks"], ok["watchers"]) == (42, 120, 7, 9)
    assert (ok["open_issues"], ok["open_pull_requests"]) == (5, 2)  # GraphQL reports them apart
    assert ok["license"] == "MIT" and ok["default_branch"] == "main" and ok["topics"] == ["django", "forms"]
    assert ok["pushed_at"] == datetime(2026, 2, 10, 8, tzinfo=UTC)
    assert ok["participation_status"] == "ok" and ok["participation"] == [1] * 52
    assert {n: (r["status"], r["participation_status"]) for n, r in rows.items()} == {
        "owner/repo": ("ok", "ok"),
        "gone/repo": ("missing", None),
        "hidden/repo": ("blocked", "pending"),
        "slow/repo": ("failed", "failed"),
    }
    assert rows["slow/repo"]["stars"] is None


@pytest.mark.parametrize(
    ("answer", "status", "weeks"),
    [
        ({"all": [2**70] * 52}, "ok", None),  # no valid week: an unknown series, never zeros
        ({"all": [3] * 51 + ["x"]}, "ok", [3] * 51 + [None]),
        ({"all": []}, "ok", None),
        ({"all": {"weeks": 1}}, "failed", None),
        ({"owner": [1] * 52}, "failed", None),
        ([1, 2], "failed", None),
    ],
)
def test_a_participation_answer_that_is_no_series_is_failed_and_the_repository_stays(answer, status, weeks):
    parsed = parse_repositories(
        _repos(("owner/repo", "ok", NODE)), _participation(("owner/repo", "ok", answer)), DAY
    )
    row = parsed.accepted.row(0, named=True)
    assert (row["stars"], row["participation_status"], row["participation"]) == (120, status, weeks)


@pytest.mark.parametrize(
    ("status", "payload", "fields", "reason"),
    [
        ("ok", [NODE], ["payload"], "payload: not a JSON object (a JSON array)"),
        ("ok", None, ["payload"], "payload: missing"),
        ("ok", {**NODE, "stargazerCount": 2**70}, ["stargazerCount"], "stargazerCount: out of range"),
        ("ok", {**NODE, "forkCount": {"totalCount": 1}}, ["forkCount"], "forkCount: not an integer"),
        ("weird", NODE, ["status"], "status: not one of ok | missing | blocked | failed (weird)"),
    ],
)
def test_an_unusable_repository_document_is_rejected_with_its_payload(status, payload, fields, reason):
    parsed = parse_repositories(_repos(("owner/repo", status, payload)), _participation(), DAY)
    assert parsed.counts["fetched"] == 1 and parsed.accepted.is_empty()
    rejected = parsed.rejected.row(0, named=True)
    assert rejected["source"] == "github/repository" and rejected["record_key"] == "owner/repo"
    assert rejected["fields"] == fields and rejected["reasons"].startswith(reason)


def test_an_unusable_repository_field_alone_is_null_and_counted_as_repaired():
    node = {**NODE, "watchers": "many", "pushedAt": "2099-01-01T00:00:00Z", "licenseInfo": "MIT"}
    node["repositoryTopics"] = {"nodes": [{"topic": {"name": "django"}}, {"topic": "x"}, 5]}
    parsed = parse_repositories(_repos(("owner/repo", "ok", node)), _participation(), DAY)
    row = parsed.accepted.row(0, named=True)
    assert (row["watchers"], row["pushed_at"], row["license"]) == (None, None, None)
    assert row["topics"] == ["django"] and row["stars"] == 120
    assert parsed.repaired == 1


def _pypi(*rows):
    return raw_frame(DAY, "pypi/project", rows)


def test_pypi_documents_give_projects_and_releases():
    projects, releases = parse_pypi(
        _pypi(
            ("django-x", "ok", DOC),
            ("django-y", "unchanged", DOC),
            ("gone", "missing", None),
            ("slow", "failed", {"error": "HTTP 503"}),
        ),
        DAY,
    )
    assert projects.counts == {"fetched": 4, "accepted": 4, "repaired": 0, "rejected": 0}
    rows = {r["pypi_name"]: r for r in projects.accepted.iter_rows(named=True)}
    assert {n: r["status"] for n, r in rows.items()} == {
        "django-x": "ok",
        "django-y": "ok",
        "gone": "missing",
        "slow": "failed",
    }
    x = rows["django-x"]
    assert (x["version"], x["requires_python"], x["license"], x["last_serial"]) == ("2.0", ">=3.9", "BSD", 99)
    assert x["django_versions"] == ["4.2", "4.10", "5.2"]  # version order, not text order
    assert x["supports_python3"] is True and x["release_count"] == 3
    assert x["last_release_at"] == datetime(2025, 6, 1, 12, 0, 0, 500000, tzinfo=UTC)
    by_version = {
        r["version"]: r for r in releases.filter(pl.col("pypi_name") == "django-x").iter_rows(named=True)
    }
    assert by_version["1.0"]["uploaded_at"] == datetime(2020, 1, 1, tzinfo=UTC)  # the first file
    assert by_version["1.0"]["yanked"] is True and by_version["1.0"]["requires_python"] == ">=3.6"
    assert by_version["2.0"]["yanked"] is False and by_version["0.1"]["yanked"] is False
    assert by_version["0.1"]["uploaded_at"] is None
    assert releases.height == 6


@pytest.mark.parametrize(
    ("doc", "fields"),
    [
        ({"info": "django-x", "releases": {}}, ["info"]),
        ({"releases": {}}, ["info"]),
        ([DOC], ["payload"]),
    ],
)
def test_a_pypi_document_unusable_as_a_whole_is_rejected_and_has_no_releases(doc, fields):
    projects, releases = parse_pypi(_pypi(("django-x", "ok", doc)), DAY)
    assert projects.accepted.is_empty() and releases.is_empty()
    assert projects.rejected.select("source", "record_key", "fields").row(0) == (
        "pypi/project",
        "django-x",
        fields,
    )


@pytest.mark.parametrize(
    ("changes", "column", "expected"),
    [
        ({"releases": ["1.0"]}, "release_count", None),  # not a map of versions: unknown, not none
        ({"releases": {"1.0": [{"upload_time_iso_8601": "2099-01-01T00:00:00Z"}]}}, "last_release_at", None),
        ({"releases": {"1.0": "files", "2.0": [1, None]}}, "release_count", 2),
        ({"releases": {"": [], "\x00": [], "1.0\x1b[2J": [], "1.0": []}}, "release_count", 1),
        ({"last_serial": 2**70}, "last_serial", None),
        ({"info": {**DOC["info"], "version": 2.0}}, "version", None),
        ({"info": {**DOC["info"], "classifiers": "Framework :: Django :: 4.2"}}, "django_versions", None),
        ({"info": {**DOC["info"], "requires_python": ["3"]}}, "supports_python3", None),
    ],
)
def test_an_unusable_pypi_field_alone_is_null_or_dropped_and_counted(changes, column, expected):
    projects, releases = parse_pypi(_pypi(("django-x", "ok", {**DOC, **changes})), DAY)
    assert projects.accepted.get_column(column).to_list() == [expected]
    assert projects.repaired == 1
    assert releases.get_column("version").str.contains(r"\p{Cc}").not_().all()


def test_raw_payloads_keep_lone_surrogates_as_their_json_escape():
    record = {"id": 1, "title": "a\ud800b \U0001f40d \u05d0", "nested": ["\udc00"]}
    raw = raw_frame(DAY, "djangopackages/packages", [("k\ud800", "ok", record)])
    payload = raw.get_column("payload")[0]
    assert '"a\\ud800b \U0001f40d \u05d0"' in payload  # only the surrogate is escaped
    assert json.loads(payload) == record
    assert raw.get_column("record_key")[0] == "k\\ud800"
