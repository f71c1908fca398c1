"""The clients against the project's replay server and its shipped sample bundle."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from assets.sources.djangopackages import DjangoPackagesClient
from assets.sources.github import GitHubClient
from assets.sources.pypi import ProjectResult, PyPIClient
from replay.bundle import load_bundle
from replay.server import ReplayServer
from tests.sources.fake_http import Harness
from warehouse.identifiers import github_full_name, normalize_name, pypi_project_name

SAMPLE = Path(__file__).resolve().parents[2] / "replay" / "bundles" / "sample"


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with ReplayServer(SAMPLE) as server:
        yield server


@pytest.fixture
def harness(replay: ReplayServer) -> Iterator[Harness]:
    """A clean slate on the shared server: no faults, zero counts."""
    replay.set_faults([])
    replay.reset_counts()
    harness = Harness(replay.base_url)
    yield harness
    harness.close()


def unique_package_count() -> int:
    return len({json.dumps(p["id"]) for p in load_bundle(SAMPLE).packages})


def test_djangopackages_crawl_returns_every_unique_package(replay: ReplayServer, harness: Harness) -> None:
    client = DjangoPackagesClient(harness.client("djangopackages"), page_size=50)

    assert client.current_date() == replay.date
    listing = client.packages()

    expected = unique_package_count()
    assert len(listing.records) == listing.reported_count == expected
    assert listing.duplicates == 0 and len(listing.pages) == math.ceil(expected / 50)
    assert {(page.status, page.count, page.error) for page in listing.pages} == {("ok", expected, None)}
    assert sum(page.results for page in listing.pages) == expected
    assert not any(key.startswith("_") for record in listing.records for key in record)
    assert (
        replay.request_counts()["djangopackages"]
        == harness.log.count("djangopackages")
        == 1 + len(listing.pages)
    )


def test_djangopackages_crawl_survives_injected_faults(replay: ReplayServer, harness: Harness) -> None:
    replay.set_faults(
        [
            {"path": r"offset=0\b", "status": 503, "times": 2},
            {"path": r"offset=50\b", "status": 429, "times": 1, "retry_after": 3},
            {"path": r"offset=100\b", "truncate": True, "times": 1},
            {"path": r"offset=150\b", "drop": True, "times": 1},
        ]
    )
    listing = DjangoPackagesClient(harness.client("djangopackages"), page_size=50).packages()

    assert len(listing.records) == unique_package_count()
    assert [r.attempts for r in harness.log.records] == [3, 2, 2, 2, 1]
    assert 3.0 in harness.sleeps and len(harness.sleeps) == 5
    assert harness.log.failed() == []


def test_djangopackages_page_still_failing_after_its_retries_is_recorded(
    replay: ReplayServer, harness: Harness
) -> None:
    replay.set_faults([{"path": r"offset=50\b", "status": 503, "times": 3}])
    listing = DjangoPackagesClient(harness.client("djangopackages", max_attempts=3), page_size=50).packages()

    expected = unique_package_count()
    assert len(listing.records) == expected - 50 and listing.reported_count == expected
    assert [p.status for p in listing.pages] == ["ok", "invalid", "ok", "ok", "ok"]
    assert listing.pages[1].path == "/api/v4/packages/?limit=50&offset=50"
    assert "(status 503, 3 attempts): HTTP 503" in (listing.pages[1].error or "")
    assert [(r.attempts, r.ok) for r in harness.log.records] == [
        (1, True),
        (3, False),
        (1, True),
        (1, True),
        (1, True),
    ]


def test_github_over_every_repository(replay: ReplayServer, harness: Harness) -> None:
    packages = load_bundle(SAMPLE).packages
    names = sorted({n for p in packages if (n := github_full_name(p.get("repo_url")))})
    client = GitHubClient(harness.client("github", headers={"Authorization": "Bearer replay-token"}))

    states = client.repository_states(names)

    assert list(states) == names
    assert replay.request_counts()["github"] == math.ceil(len(names) / 100)
    ok = [s.doc for s in states.values() if s.status == "ok"]
    assert len(ok) > 0.9 * len(names)
    assert all(isinstance(doc["databaseId"], int) and "/" in doc["nameWithOwner"] for doc in ok)

    participation = client.participation(names)

    assert list(participation) == names
    for status in ("missing", "blocked"):
        # Both APIs agree on which repositories are gone or blocked.
        by_graphql = {n for n, s in states.items() if s.status == status}
        assert by_graphql == {n for n, p in participation.items() if p.status == status}
    weeks = [p.all for p in participation.values() if p.status == "ok"]
    assert weeks and all(w is not None and len(w) == 52 for w in weeks)
    assert len(harness.sleeps) <= client.participation_attempts - 1
    assert harness.log.failed() == []


def test_pypi_projects_for_a_few_names(replay: ReplayServer, harness: Harness) -> None:
    packages = load_bundle(SAMPLE).packages
    names = sorted({n for p in packages if (n := pypi_project_name(p.get("pypi_url")))})[:5]
    client = PyPIClient(harness.client("pypi"))

    results = client.projects([*names, "no-such-project-anywhere"])

    assert results["no-such-project-anywhere"] == ProjectResult("missing", None)
    for name in names:
        document = results[name].doc
        assert results[name].status == "ok" and document is not None
        assert normalize_name(document["info"]["name"]) == normalize_name(name)
        assert isinstance(document["releases"], dict)
    assert replay.request_counts()["pypi"] == harness.log.count("pypi") == 6


def test_a_participation_304_is_counted_as_a_request_that_cost_no_quota(
    replay: ReplayServer, harness: Harness
) -> None:
    packages = load_bundle(SAMPLE).packages
    names = sorted({n for p in packages if (n := github_full_name(p.get("repo_url")))})[:40]
    http = harness.client("github", headers={"Authorization": "Bearer replay-token"})
    client = GitHubClient(http)
    first = client.participation(names)
    etags = {n: p.etag for n, p in first.items() if p.status == "ok" and p.etag}
    assert len(etags) > 20

    def remaining() -> int:
        return int(http.get("/rate_limit").json()["resources"]["core"]["remaining"])

    before, logged = remaining(), len(harness.log.records)
    again = client.participation(list(etags), etags)
    made = [r.status for r in harness.log.records[logged:]]

    assert {p.status for p in again.values()} == {"unchanged"}
    assert {n: p.etag for n, p in again.items()} == etags
    # A 304 costs nothing (GitHub's rule, which the replay keeps); a renamed repository's 301 does.
    assert made.count(304) == len(etags) and set(made) <= {301, 304} and 301 in made
    assert before - remaining() == made.count(301)
    assert sum(replay.path_counts()["not_modified"].values()) == len(etags)
