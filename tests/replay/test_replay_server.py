"""The replay server over real loopback HTTP."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from replay.bundle import SAMPLE_BUNDLE
from replay.server import ReplayServer
from replay.times import parse_time
from warehouse.identifiers import github_repository, pypi_project_name

TINY = Path(__file__).parent / "tiny_bundle"
ROOT = Path(__file__).parents[2]
SAMPLE_AS_OF = date(2026, 5, 28)


@pytest.fixture(scope="module")
def sample_server() -> Iterator[ReplayServer]:
    with ReplayServer(SAMPLE_BUNDLE) as srv:
        yield srv


@pytest.fixture
def sample(sample_server: ReplayServer) -> ReplayServer:
    sample_server.set_date(SAMPLE_AS_OF)
    sample_server.set_faults([])
    sample_server.reset_counts()
    return sample_server


@pytest.fixture(scope="module")
def tiny() -> Iterator[ReplayServer]:
    with ReplayServer(TINY) as srv:
        yield srv


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = "Bearer replay-token"  # GitHub's GraphQL answers no one without
        yield session


def packages_on(srv: ReplayServer, http: requests.Session, day: date) -> dict[Any, dict[str, Any]]:
    srv.set_date(day)
    page = http.get(f"{srv.base_url}/api/v4/packages/?limit=1000").json()
    assert page["next"] is None
    return {r["id"]: r for r in page["results"]}


def github_names(srv: ReplayServer) -> list[str]:
    names = (github_repository(r.get("repo_url")) for r in srv.bundle.packages)
    return sorted({n for n in names if n})


# -- djangopackages ------------------------------------------------------------------------------


def test_pagination_walks_every_package_once(sample: ReplayServer, http: requests.Session) -> None:
    url, seen, pages = f"{sample.base_url}/api/v4/packages/?limit=7", [], 0
    previous_url = None
    while url:
        page = http.get(url).json()
        assert page["count"] == 240
        assert page["previous"] == previous_url
        seen += [r["id"] for r in page["results"]]
        previous_url, url, pages = url, page["next"], pages + 1
        assert url is None or url.startswith(sample.base_url)
    assert pages == 35 and len(seen) == len(set(seen)) == 240
    assert seen == sorted(seen, reverse=True)  # newest first
    second = http.get(f"{sample.base_url}/api/v4/packages/?limit=7&offset=7&format=json").json()
    # DRF drops the offset for the first page and keeps the other parameters.
    assert second["previous"] == f"{sample.base_url}/api/v4/packages/?format=json&limit=7"
    assert second["next"] == f"{sample.base_url}/api/v4/packages/?format=json&limit=7&offset=14"


def test_links_follow_the_host_the_client_used(sample: ReplayServer, http: requests.Session) -> None:
    port = sample.base_url.rsplit(":", 1)[1]
    page = http.get(f"http://localhost:{port}/api/v4/packages/").json()
    assert page["next"] == f"http://localhost:{port}/api/v4/packages/?limit=20&offset=20"
    assert len(page["results"]) == 20


@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "limit=0", "offset=-5", "offset=1.5"])
def test_bad_limit_or_offset_is_a_400(sample: ReplayServer, http: requests.Session, query: str) -> None:
    answer = http.get(f"{sample.base_url}/api/v4/packages/?{query}")
    assert answer.status_code == 400 and "detail" in answer.json()


def test_detail_by_id_and_slug_and_404s(sample: ReplayServer, http: requests.Session) -> None:
    base = f"{sample.base_url}/api/v4"
    by_id = http.get(f"{base}/packages/5963/").json()
    assert by_id == http.get(f"{base}/packages/django-valkey/").json()
    assert by_id["id"] == 5963 and by_id["last_fetched"].startswith("2026-05-26")
    missing = http.get(f"{base}/packages/999999/")
    assert missing.status_code == 404 and missing.json() == {"detail": "No Package matches the given query."}
    assert http.get(f"{base}/grids/grid-31/").json()["id"] == 31
    assert http.get(f"{base}/grids/438/").json()["slug"] == "healt-checkers"
    assert http.get(f"{base}/categories/1/").json()["title"] == "App"
    assert http.get(f"{base}/categories/apps/").json() == {"detail": "No Category matches the given query."}
    assert http.get(f"{base}/nothing/").status_code == 404
    redirected = http.get(f"{base}/packages/5963", allow_redirects=False)
    assert redirected.status_code == 301 and redirected.headers["Location"].endswith("/api/v4/packages/5963/")


def test_categories_and_grids_are_derived_from_links(tiny: ReplayServer, http: requests.Session) -> None:
    categories = http.get(f"{tiny.base_url}/api/v4/categories/").json()
    assert [c["id"] for c in categories["results"]] == [4, 2, 1]
    grids = {g["id"]: g for g in http.get(f"{tiny.base_url}/api/v4/grids/").json()["results"]}
    assert grids[9]["packages"] == [
        "https://djangopackages.org/api/v4/packages/6999/",
        "https://djangopackages.org/api/v4/packages/7002/",
    ]
    assert grids[5]["created"] == "2019-05-01T12:00:00.5-04:00"  # the oldest member's


def test_provenance_keys_are_never_served(sample: ReplayServer, http: requests.Session) -> None:
    for day in (SAMPLE_AS_OF, SAMPLE_AS_OF + timedelta(days=3)):
        for record in packages_on(sample, http, day).values():
            assert not [k for k in record if k.startswith("_")]
    detail = http.get(f"{sample.base_url}/api/v4/packages/6278/").json()
    assert "_source" not in detail and "_truncated" not in detail


def test_unusable_record_is_served_verbatim(tiny: ReplayServer, http: requests.Session) -> None:
    tiny.set_date(tiny.bundle.as_of + timedelta(days=4))
    page = http.get(f"{tiny.base_url}/api/v4/packages/").json()
    assert [r["id"] for r in page["results"]] == [7002, 7001, 6999, "abc"]
    broken = http.get(f"{tiny.base_url}/api/v4/packages/broken-record/").json()
    assert broken == page["results"][-1]
    assert broken["repo_watchers"] == "many" and broken["commits_over_52"] == "lots"
    assert broken["last_fetched"] == "2026-02-28T09:00:00-05:00"
    assert http.get(f"{tiny.base_url}/repos/acme/broken").status_code == 404
    assert http.get(f"{tiny.base_url}/pypi/broken/json").status_code == 404


def test_search_returns_a_bare_list(sample: ReplayServer, http: requests.Session) -> None:
    hits = http.get(f"{sample.base_url}/api/v4/search/?q=Django").json()
    assert isinstance(hits, list) and len(hits) == 20
    assert all("django" in (h["title"] + h["slug"]).lower() for h in hits)
    flows = http.get(f"{sample.base_url}/api/v4/search/?q=flows").json()
    assert [h["slug"] for h in flows] == ["django-flows"] and flows[0]["category"] == "Project"


def test_every_response_has_the_clock_date_and_json_headers(
    sample: ReplayServer, http: requests.Session
) -> None:
    sample.set_date("2026-06-03")
    for path in (
        "/api/v4/packages/",
        "/repos/django-commons/django-valkey",
        "/pypi/django-valkey/json",
        "/x",
    ):
        answer = http.get(sample.base_url + path)
        assert answer.headers["Content-Type"] == "application/json"
        assert int(answer.headers["Content-Length"]) == len(answer.content)
        assert parsedate_to_datetime(answer.headers["Date"]).date() == date(2026, 6, 3)


# -- evolution -------------------------------------------------------------------------------------


def test_refreshed_packages_move_with_the_clock(sample: ReplayServer, http: requests.Session) -> None:
    days = [SAMPLE_AS_OF + timedelta(days=k) for k in range(15)]
    snapshots = [packages_on(sample, http, day) for day in days]
    first, last = snapshots[0], snapshots[-1]
    # Fetched within the 150-day refresh window before 2026-05-28: the February and May crawls.
    refreshed = [pid for pid, r in first.items() if r["last_fetched"] >= "2025-12-29"]
    frozen = [pid for pid in first if pid not in refreshed]
    assert len(refreshed) == 238
    for day, snapshot in zip(days[1:], snapshots[1:], strict=True):
        for pid in refreshed:
            fetched = parse_time(snapshot[pid]["last_fetched"])
            assert fetched is not None and fetched.date() == day - timedelta(days=1)
            assert (
                snapshot[pid]["last_fetched"][10:11] == "T" and snapshot[pid]["last_fetched"][-6:] == "-04:00"
            )
        assert all(snapshot[pid] == first[pid] for pid in frozen)
    for earlier, later in zip(snapshots, snapshots[1:], strict=False):
        assert all(later[p]["repo_watchers"] >= earlier[p]["repo_watchers"] for p in refreshed)
        assert all(later[p]["repo_forks"] >= earlier[p]["repo_forks"] for p in refreshed)
    assert any(last[p]["repo_watchers"] > first[p]["repo_watchers"] for p in refreshed)
    # Seven days later the window has moved exactly one week: old weeks slide left untouched.
    one, eight = snapshots[1], snapshots[8]
    for pid in refreshed:
        if one[pid]["commits_over_52"]:
            assert eight[pid]["commits_over_52"][:40] == one[pid]["commits_over_52"][1:41]
    rising = [
        p for p in refreshed if sum(last[p]["commits_over_52"][-4:]) > sum(first[p]["commits_over_52"][-4:])
    ]
    assert rising
    for pid in rising:
        assert last[pid]["last_updated"] > first[pid]["last_updated"]


def test_daylight_saving_time_changes_the_offset(tiny: ReplayServer, http: requests.Session) -> None:
    before = packages_on(tiny, http, date(2026, 3, 5))[7002]
    after = packages_on(tiny, http, date(2026, 3, 12))[7002]
    assert before["last_fetched"].startswith("2026-03-04") and before["last_fetched"].endswith("-05:00")
    assert after["last_fetched"].startswith("2026-03-11") and after["last_fetched"].endswith("-04:00")
    assert packages_on(tiny, http, date(2026, 3, 12))[6999]["last_fetched"] == "2016-07-24T14:27:18.060828"


def test_two_servers_agree_on_every_body(http: requests.Session) -> None:
    paths = [
        "/api/v4/packages/?limit=1000",
        "/api/v4/packages/2119/",
        "/repos/django-commons/django-valkey",
        "/repos/django-commons/django-valkey/stats/participation",
        "/pypi/django-valkey/json",
        "/simple/",
    ]
    bodies = []
    for _ in range(2):
        with ReplayServer(SAMPLE_BUNDLE, date="2026-06-02") as srv:
            bodies.append(
                [http.get(srv.base_url + p).content.replace(srv.base_url.encode(), b"") for p in paths]
            )
    assert bodies[0] == bodies[1]


# -- GitHub ---------------------------------------------------------------------------------------


def test_repository_agrees_with_the_package(sample: ReplayServer, http: requests.Session) -> None:
    day = SAMPLE_AS_OF + timedelta(days=6)
    record = packages_on(sample, http, day)[2119]
    full_name = github_repository(record["repo_url"])
    answer = http.get(f"{sample.base_url}/repos/{full_name}")
    doc = answer.json()
    assert doc["full_name"] == full_name and doc["stargazers_count"] == record["repo_watchers"]
    assert doc["forks_count"] == record["repo_forks"]
    assert doc["pushed_at"] == parse_time(record["last_updated"]).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[union-attr]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["created_at"])
    assert set(doc) >= {
        "id",
        "node_id",
        "open_issues_count",
        "subscribers_count",
        "archived",
        "license",
        "topics",
    }
    assert answer.headers["x-ratelimit-limit"] == "5000"
    weekly = http.get(f"{sample.base_url}/repos/{full_name}/stats/participation")
    if weekly.status_code == 202:
        weekly = http.get(f"{sample.base_url}/repos/{full_name}/stats/participation")
    stats = weekly.json()
    assert len(stats["all"]) == len(stats["owner"]) == 52
    assert all(0 <= o <= a for o, a in zip(stats["owner"], stats["all"], strict=True))
    # The djangopackages array was fetched the day before; same commits, same week here (not a Sunday).
    assert day.weekday() != 6 and stats["all"] == record["commits_over_52"]


def test_rate_limit_and_conditional_requests(sample: ReplayServer, http: requests.Session) -> None:
    url = f"{sample.base_url}/repos/django-commons/django-valkey"
    first = http.get(url)
    second = http.get(url)
    assert int(second.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1
    reset = int(first.headers["x-ratelimit-reset"])
    assert reset % 3600 == 0 and 0 < reset - parsedate_to_datetime(first.headers["Date"]).timestamp() <= 3600
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    unchanged = http.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["x-ratelimit-remaining"] == second.headers["x-ratelimit-remaining"]
    sample.set_date(SAMPLE_AS_OF + timedelta(days=5))
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 200  # stars moved on


def test_without_a_token_graphql_refuses_and_rest_allows_60_an_hour(sample: ReplayServer) -> None:
    with requests.Session() as anonymous:
        refused = anonymous.post(f"{sample.base_url}/graphql", json={"query": "query { viewer { login } }"})
        rest = anonymous.get(f"{sample.base_url}/repos/django-commons/django-valkey")
    assert refused.status_code == 401 and "authenticated" in refused.json()["message"]
    assert rest.headers["x-ratelimit-limit"] == "60" and rest.headers["x-ratelimit-remaining"] == "59"


def test_request_counts_per_path_with_304s_apart(sample: ReplayServer, http: requests.Session) -> None:
    url = f"{sample.base_url}/repos/django-commons/django-valkey"
    etag = http.get(url).headers["ETag"]
    http.get(url, headers={"If-None-Match": etag})
    http.get(f"{sample.base_url}/api/v4/packages/?limit=5")
    counts = http.get(f"{sample.base_url}/_replay/requests").json()
    assert counts == {
        "paths": {"/repos/django-commons/django-valkey": 2, "/api/v4/packages/": 1},
        "not_modified": {"/repos/django-commons/django-valkey": 1},
    }
    assert http.post(f"{sample.base_url}/_replay/requests", json={"reset": True}).json() == {
        "paths": {},
        "not_modified": {},
    }


def test_latency_delays_every_api_answer_but_not_the_admin_endpoints(
    sample: ReplayServer, http: requests.Session
) -> None:
    def seconds(url: str) -> float:
        start = time.perf_counter()
        http.get(url).raise_for_status()
        return time.perf_counter() - start

    assert http.post(f"{sample.base_url}/_replay/latency", json={"ms": 200}).json() == {"ms": 200}
    try:
        assert seconds(f"{sample.base_url}/pypi/django-valkey/json") >= 0.2
        assert seconds(f"{sample.base_url}/_replay/clock") < 0.2
    finally:
        sample.set_latency(0)
    assert seconds(f"{sample.base_url}/pypi/django-valkey/json") < 0.2
    assert http.post(f"{sample.base_url}/_replay/latency", json={"ms": -1}).status_code == 400


def test_participation_pending_and_computing(
    sample: ReplayServer, tiny: ReplayServer, http: requests.Session
) -> None:
    for _ in range(3):
        assert http.get(f"{tiny.base_url}/repos/acme/django-alpha/stats/participation").status_code == 202
    sample.set_date(SAMPLE_AS_OF + timedelta(days=11))
    computing = []
    for name in github_names(sample):
        url = f"{sample.base_url}/repos/{name}/stats/participation"
        first = http.get(url, allow_redirects=False)
        assert first.status_code in (200, 202, 301, 404, 451)
        if first.status_code == 202:
            assert first.json() == {}
            assert http.get(url).status_code == 200
            computing.append(name)
    assert 1 <= len(computing) <= 25


def test_renamed_repository_redirects(sample: ReplayServer, http: requests.Session) -> None:
    statuses = {
        n: http.get(f"{sample.base_url}/repos/{n}", allow_redirects=False) for n in github_names(sample)
    }
    moved = [n for n, a in statuses.items() if a.status_code == 301]
    assert moved and any(a.status_code == 404 for a in statuses.values())
    name = moved[0]
    body = statuses[name].json()
    assert body["message"] == "Moved Permanently"
    assert re.fullmatch(rf"{sample.base_url}/repositories/\d+", body["url"])
    assert statuses[name].headers["Location"] == body["url"]
    doc = http.get(f"{sample.base_url}/repos/{name}").json()  # requests follows the redirect
    assert doc["full_name"] != name and doc["name"] == name.split("/")[1]
    assert body["url"].endswith(f"/{doc['id']}")
    assert http.get(f"{sample.base_url}/repos/{doc['full_name']}").json() == doc
    owner, repo = name.split("/")
    node = graphql(sample, http, [(owner, repo)])["data"]["r0"]
    assert node["nameWithOwner"] == doc["full_name"] and node["databaseId"] == doc["id"]


def graphql(srv: ReplayServer, http: requests.Session, repos: list[tuple[str, str]]) -> dict[str, Any]:
    declared = ", ".join(f"$o{i}: String!, $n{i}: String!" for i in range(len(repos)))
    aliases = " ".join(
        f"r{i}: repository(owner: $o{i}, name: $n{i}) {{ ...Repo }}" for i in range(len(repos))
    )
    query = (
        f"query Repos({declared}) {{ rateLimit {{ cost remaining resetAt }} {aliases} }}"
        " fragment Repo on Repository { databaseId nameWithOwner stargazerCount }"
    )
    variables = {k: v for i, (o, n) in enumerate(repos) for k, v in ((f"o{i}", o), (f"n{i}", n))}
    answer = http.post(f"{srv.base_url}/graphql", json={"query": query, "variables": variables})
    assert answer.status_code == 200 and answer.headers["x-ratelimit-resource"] == "graphql"
    return answer.json()


def test_graphql_batch_with_found_and_missing(sample: ReplayServer, http: requests.Session) -> None:
    found = ("django-commons", "django-valkey")
    body = graphql(sample, http, [found, ("nobody", "nothing")])
    node = body["data"]["r0"]
    rest = http.get(f"{sample.base_url}/repos/django-commons/django-valkey").json()
    assert node["nameWithOwner"] == rest["full_name"] and node["stargazerCount"] == rest["stargazers_count"]
    assert node["issues"]["totalCount"] + node["pullRequests"]["totalCount"] == rest["open_issues_count"]
    assert set(node) >= {
        "watchers",
        "pushedAt",
        "isArchived",
        "licenseInfo",
        "defaultBranchRef",
        "repositoryTopics",
    }
    assert body["data"]["r1"] is None
    assert body["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["r1"],
            "message": "Could not resolve to a Repository with the name 'nobody/nothing'.",
        }
    ]
    assert body["data"]["rateLimit"]["cost"] == 1
    too_many = graphql(sample, http, [found] * 101)
    assert "data" not in too_many and too_many["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"


# -- PyPI -----------------------------------------------------------------------------------------


def test_pypi_document_agrees_with_the_package(sample: ReplayServer, http: requests.Session) -> None:
    records = packages_on(sample, http, SAMPLE_AS_OF + timedelta(days=2))
    checked = 0
    for record in records.values():
        name = pypi_project_name(record["pypi_url"])
        answer = http.get(f"{sample.base_url}/pypi/{name}/json")
        if name is None or record["pypi_version"] is None:
            assert answer.status_code == 404
            continue
        doc, checked = answer.json(), checked + 1
        info = doc["info"]
        assert info["version"] == record["pypi_version"] and info["project_urls"] == {
            "Source": record["repo_url"]
        }
        assert list(doc["releases"])[-1] == record["pypi_version"] and 1 <= len(doc["releases"]) <= 12
        assert doc["urls"] == doc["releases"][record["pypi_version"]]
        assert "Framework :: Django" in info["classifiers"]
        assert answer.headers["X-PyPI-Last-Serial"] == str(doc["last_serial"])
        uploads = [
            datetime.fromisoformat(f["upload_time_iso_8601"])
            for files in doc["releases"].values()
            for f in files
        ]
        anchor = parse_time(record["last_updated"]) or parse_time(record["created"])
        assert anchor is not None and max(uploads) <= anchor
    assert checked > 150
    assert http.get(f"{sample.base_url}/pypi/no-such-project/json").status_code == 404


def test_pypi_redirects_names_that_are_not_normalized(tiny: ReplayServer, http: requests.Session) -> None:
    tiny.set_date(tiny.bundle.as_of)
    moved = http.get(f"{tiny.base_url}/pypi/Django_Beta/json", allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"] == f"{tiny.base_url}/pypi/django-beta/json"
    doc = http.get(f"{tiny.base_url}/pypi/Django_Beta/json").json()
    assert doc["info"]["name"] == "Django_Beta" and doc["info"]["version"] == "0.9"
    etag = http.get(f"{tiny.base_url}/pypi/django-alpha/json").headers["ETag"]
    assert (
        http.get(f"{tiny.base_url}/pypi/django-alpha/json", headers={"If-None-Match": etag}).status_code
        == 304
    )


def test_a_release_moves_pypi_version_and_the_pypi_document(http: requests.Session) -> None:
    # synthetic=N wins over a bundle directory, as `dpw replay serve --synthetic N` passes both.
    with ReplayServer(SAMPLE_BUNDLE, synthetic=400) as srv:
        start = packages_on(srv, http, srv.bundle.as_of)
        assert len(start) == 400
        day = srv.bundle.as_of + timedelta(days=14)
        end = packages_on(srv, http, day)
        released = [p for p in start if start[p]["pypi_version"] != end[p]["pypi_version"]]
        assert released
        record = end[released[0]]
        doc = http.get(f"{srv.base_url}/pypi/{pypi_project_name(record['pypi_url'])}/json").json()
        assert doc["info"]["version"] == record["pypi_version"]
        assert start[released[0]]["pypi_version"] in doc["releases"]
        latest = datetime.fromisoformat(doc["urls"][0]["upload_time_iso_8601"])
        assert srv.bundle.as_of <= latest.date() < day


def test_documents_shipped_in_the_bundle_override_derived_ones(
    tmp_path: Path, http: requests.Session
) -> None:
    (tmp_path / "packages.jsonl").write_text((TINY / "packages.jsonl").read_text())
    repo = {"id": 42, "full_name": "acme/django-beta", "stargazers_count": 12345, "_source": "fixture"}
    project = {
        "info": {"name": "Django_Beta", "version": "9.9"},
        "last_serial": 77,
        "releases": {},
        "urls": [],
    }
    (tmp_path / "github.jsonl").write_text(json.dumps(repo) + "\n")
    (tmp_path / "pypi.jsonl").write_text(json.dumps(project) + "\n")
    with ReplayServer(tmp_path) as srv:
        assert http.get(f"{srv.base_url}/repos/acme/django-beta").json() == {
            "id": 42, "full_name": "acme/django-beta", "stargazers_count": 12345,
        }  # fmt: skip
        assert http.get(f"{srv.base_url}/repositories/42").json()["stargazers_count"] == 12345
        node = graphql(srv, http, [("acme", "django-beta")])["data"]["r0"]
        assert node["databaseId"] == 42 and node["stargazerCount"] == 12345
        weekly = http.get(f"{srv.base_url}/repos/acme/django-beta/stats/participation")
        assert weekly.status_code == 202 or weekly.json()["all"][-1] == 2  # still the package's weeks
        assert http.get(f"{srv.base_url}/pypi/django-beta/json").json() == project
        listed = http.get(f"{srv.base_url}/simple/").json()["projects"]
        assert {"name": "Django_Beta", "_last-serial": 77} in listed


# -- faults and admin ---------------------------------------------------------------------------


def test_429_with_retry_after_fires_n_times(sample: ReplayServer, http: requests.Session) -> None:
    sample.set_faults([{"path": r"^/api/v4/packages/", "status": 429, "times": 2, "retry_after": 7}])
    url = f"{sample.base_url}/api/v4/packages/?limit=1"
    answers = [http.get(url) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7" and "Retry-After" not in answers[2].headers
    assert sample.request_counts() == {
        "djangopackages": 3,
        "github": 0,
        "pypi": 0,
        "gitlab": 0,
        "bitbucket": 0,
    }


def test_drop_truncate_delay_and_503(sample: ReplayServer, http: requests.Session) -> None:
    sample.set_faults(
        [
            {"path": "^/repos/", "drop": True},
            {"path": "^/pypi/", "truncate": True},
            {"path": "categories", "delay": 0.3},
            {"path": "grids", "status": 503, "times": 1},
            {"path": "^/api/v4/packages/1", "html": True, "times": 2},
        ]
    )
    with pytest.raises(requests.ConnectionError):
        http.get(f"{sample.base_url}/repos/django-commons/django-valkey")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        http.get(f"{sample.base_url}/pypi/django-valkey/json")
    started = time.monotonic()
    assert http.get(f"{sample.base_url}/api/v4/categories/").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert http.get(f"{sample.base_url}/api/v4/grids/").status_code == 503
    for _ in range(2):
        page = http.get(f"{sample.base_url}/api/v4/packages/1/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.text.lstrip().startswith("<!DOCTYPE html>")
    for path in (
        "/repos/django-commons/django-valkey",
        "/pypi/django-valkey/json",
        "/api/v4/grids/",
        "/api/v4/packages/1/",
    ):
        assert http.get(sample.base_url + path).headers["content-type"] == "application/json"


def test_bad_fault_rules_are_refused(sample: ReplayServer, http: requests.Session) -> None:
    with pytest.raises(ValueError, match="times"):
        sample.set_faults([{"path": "x", "status": 500, "times": 0}])
    refused = http.post(f"{sample.base_url}/_replay/faults", json=[{"path": "(", "status": 500}])
    assert refused.status_code == 400


def test_admin_endpoints(sample: ReplayServer, http: requests.Session) -> None:
    moved = http.post(f"{sample.base_url}/_replay/clock", json={"date": "2026-06-01"}).json()
    assert moved == {"date": "2026-06-01", "as_of": "2026-05-28"} and sample.date == date(2026, 6, 1)
    assert http.get(f"{sample.base_url}/_replay/clock").json()["date"] == "2026-06-01"
    http.post(f"{sample.base_url}/_replay/faults", json=[{"path": "^/pypi/", "status": 500, "times": 3}])
    assert http.get(f"{sample.base_url}/pypi/django-valkey/json").status_code == 500
    stats = http.get(f"{sample.base_url}/_replay/stats").json()
    assert stats["requests"] == {"djangopackages": 0, "github": 0, "pypi": 1, "gitlab": 0, "bitbucket": 0}
    assert stats["faults"] == [{"path": "^/pypi/", "status": 500, "left": 2}] and stats["packages"] == 240
    assert http.post(f"{sample.base_url}/_replay/clock", json={"date": "soon"}).status_code == 400


# -- scale and the entry point -------------------------------------------------------------------


def test_synthetic_pages_of_1000_are_fast(http: requests.Session) -> None:
    with ReplayServer(synthetic=5000) as srv:
        srv.set_date(srv.bundle.as_of + timedelta(days=9))
        started = time.perf_counter()
        ids = []
        url = f"{srv.base_url}/api/v4/packages/?limit=1000"
        while url:
            page = http.get(url).json()
            ids += [r["id"] for r in page["results"]]
            url = page["next"]
        cold = time.perf_counter() - started
        started = time.perf_counter()
        http.get(f"{srv.base_url}/api/v4/packages/?limit=1000&offset=3000").raise_for_status()
        warm = time.perf_counter() - started
    assert len(set(ids)) == 5000
    assert cold < 2.0 and warm < 0.25


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_its_address_and_exits_cleanly(sig: signal.Signals) -> None:
    code = f"from replay.server import serve; serve({str(TINY)!r}, port=0)"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(
            r"Replay server listening on (http://127\.0\.0\.1:\d+) \(date 2026-03-02\)\n", line
        )
        assert match, line
        assert requests.get(f"{match.group(1)}/api/v4/packages/").json()["count"] == 4
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
