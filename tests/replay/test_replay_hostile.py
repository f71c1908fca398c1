"""The replay server serves a hostile bundle as received, over real HTTP, and never answers 500 for it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from replay.bundle import BundleWarning, load_bundle
from replay.server import ReplayServer
from tests.replay import hostile
from warehouse.identifiers import github_repository, normalize_name, pypi_project_name

AS_OF = date.fromisoformat(hostile.AS_OF)
LATER = AS_OF + timedelta(days=5)
DERIVED_STATUSES = {200, 202, 301, 404, 451}
NO_PACKAGE = {"detail": "No Package matches the given query."}


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    return hostile.write_bundle(tmp_path_factory.mktemp("hostile") / "bundle")


@pytest.fixture(scope="module")
def srv(bundle_dir: tuple[Path, list[int]]) -> Iterator[ReplayServer]:
    with pytest.warns(BundleWarning):
        server = ReplayServer(bundle_dir[0])
    with server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = "Bearer replay-token"  # GitHub's GraphQL answers no one without
        yield session


def get(http: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    """A GET whose body is strict JSON in strict UTF-8: no raw surrogate, no NaN."""
    kwargs.setdefault("allow_redirects", False)
    answer = http.get(url, **kwargs)
    assert answer.status_code != 500, (url[:200], answer.content[:300])
    if answer.status_code != 304:
        json.loads(answer.content.decode("utf-8"), parse_constant=_refuse)
    return answer


def _refuse(text: str) -> None:
    raise AssertionError(f"{text} is not JSON")


def api_order(items: list[Any], record: Callable[[Any], Any] = lambda item: item) -> list[Any]:
    """Newest integer id first, then the rest in bundle order (DRF's ordering, -id)."""

    def key(item: Any) -> tuple[int, int]:
        pid = record(item).get("id") if isinstance(record(item), dict) else None
        return (0, -pid) if type(pid) is int else (1, 0)

    return sorted(items, key=key)


def walk(srv: ReplayServer, http: requests.Session, kind: str, day: date) -> list[Any]:
    srv.set_date(day)
    url, results = f"{srv.base_url}/api/v4/{kind}/?limit=7", []
    while url:
        page = get(http, url)
        assert page.status_code == 200
        body = page.json()
        results += body["results"]
        url = body["next"]
    assert body["count"] == len(results)
    return results


def test_every_line_that_is_not_json_is_skipped_naming_its_file_and_line(
    bundle_dir: tuple[Path, list[int]],
) -> None:
    directory, skipped = bundle_dir
    with pytest.warns(BundleWarning) as caught:
        bundle = load_bundle(directory)
    messages = [str(w.message) for w in caught]
    for number in skipped:
        assert sum(f"packages.jsonl.gz:{number}: skipped" in m for m in messages) == 1, number
    assert sum("document without" in m for m in messages) == 6
    assert len(bundle.packages) == len(hostile.served_packages())
    # Records fetched in 2099 and 9999 are garbage, not the day the bundle was taken.
    assert bundle.as_of == AS_OF


def test_package_pages_serve_every_record_as_received(srv: ReplayServer, http: requests.Session) -> None:
    served = [record for _, record in hostile.served_packages()]
    assert walk(srv, http, "packages", AS_OF) == api_order(served)


def test_later_dates_evolve_the_sound_records_and_serve_the_rest_as_received(
    srv: ReplayServer, http: requests.Session
) -> None:
    results = walk(srv, http, "packages", LATER)
    expected = api_order(hostile.served_packages(), lambda pair: pair[1])
    assert len(results) == len(expected)
    evolved = 0
    for got, (entry, original) in zip(results, expected, strict=True):
        if not entry.evolves:
            assert got == original, entry.label
            continue
        unchanged = {k: v for k, v in original.items() if k not in hostile.EVOLVED_FIELDS}
        assert {k: v for k, v in got.items() if k not in hostile.EVOLVED_FIELDS} == unchanged, entry.label
        assert got["last_fetched"].startswith((LATER - timedelta(days=1)).isoformat()), entry.label
        assert got["repo_watchers"] >= original["repo_watchers"]
        evolved += 1
    assert evolved == sum(e.evolves for e, _ in hostile.served_packages())


def test_every_detail_is_the_record_as_received(srv: ReplayServer, http: requests.Session) -> None:
    srv.set_date(AS_OF)
    ordered = api_order([record for _, record in hostile.served_packages()])
    base = f"{srv.base_url}/api/v4/packages"
    by_slug: dict[str, Any] = {}
    for record in ordered:
        if isinstance(record, dict) and isinstance(record.get("slug"), str):
            by_slug.setdefault(record["slug"], record)
    by_id = {r["id"]: r for r in ordered if isinstance(r, dict) and type(r.get("id")) is int}
    assert len(by_id) == 82
    for pid, record in by_id.items():
        answer = get(http, f"{base}/{pid}/")
        # A path has no minus sign for an id: -5 reads as a slug, and no record has that slug.
        assert (answer.status_code, answer.json()) == ((200, record) if pid >= 0 else (404, NO_PACKAGE))
    reachable = 0
    for slug, record in by_slug.items():
        if "/" in slug or slug.isdigit() or any(0xD800 <= ord(c) <= 0xDFFF for c in slug):
            continue  # a path segment cannot carry it, or it reads as an id
        answer = get(http, f"{base}/{requests.utils.quote(slug, safe='')}/")
        assert answer.status_code == 200 and answer.json() == record, slug
        reachable += 1
    assert reachable > 60
    assert get(http, f"{base}/shared-slug/").json()["id"] == 8025  # the newest id owns a shared slug
    # Slugs that are not strings are not slugs: a missing one is not "None", a list is not "['x']".
    for odd in ("None", "%5B%27x%27%5D", "9" * 5000):
        assert get(http, f"{base}/{odd}/").json() == NO_PACKAGE


def test_lone_surrogates_go_on_the_wire_as_json_escapes(srv: ReplayServer, http: requests.Session) -> None:
    srv.set_date(AS_OF)
    answer = get(http, f"{srv.base_url}/api/v4/packages/8010/")
    assert b'"title":"\\ud800"' in answer.content
    assert answer.json()["title"] == "\ud800"
    reversed_pair = get(http, f"{srv.base_url}/api/v4/packages/8011/").content
    assert b'"a\\udfffb\\udc00\\ud800c"' in reversed_pair
    # Everything else keeps its UTF-8 form: only what UTF-8 cannot carry is escaped.
    astral = get(http, f"{srv.base_url}/api/v4/packages/8015/").content
    assert "\u2028\u2029\ufeff\u202e".encode() in astral and "\U0001f9d1\U0001f3fd".encode() in astral
    assert b"\\u" not in astral


def test_groups_serve_hostile_records_and_derive_around_them(
    srv: ReplayServer, http: requests.Session
) -> None:
    categories = walk(srv, http, "categories", AS_OF)
    shipped = api_order([hostile.public(x.value) for x in hostile.CATEGORIES])
    assert [c for c in categories if c in shipped] == shipped
    # Category 1 is shipped (with its surrogate title): only the link to category 2 gives a derived one.
    assert [c["id"] for c in categories if c not in shipped] == [2]
    grids = walk(srv, http, "grids", AS_OF)
    shipped = api_order([hostile.public(x.value) for x in hostile.GRIDS])
    assert [g for g in grids if g in shipped] == shipped
    derived = {g["id"]: g for g in grids if g not in shipped}
    assert set(derived) == {77}
    assert derived[77]["packages"] == ["https://djangopackages.org/api/v4/packages/8115/"]
    base = f"{srv.base_url}/api/v4"
    assert get(http, f"{base}/grids/dup/").json()["id"] == 7
    assert get(http, f"{base}/categories/1/").json()["title"] == "\ud800"


def test_search_survives_every_record(srv: ReplayServer, http: requests.Session) -> None:
    for q in ("hostile", "x", "\u0000", "\ud800", "[/]", "é"):
        answer = get(http, f"{srv.base_url}/api/v4/search/", params={"q": q.encode("utf-8", "surrogatepass")})
        assert answer.status_code == 200 and isinstance(answer.json(), list)
    hits = get(http, f"{srv.base_url}/api/v4/search/?q=newest").json()
    assert [(h["slug"], h["title"]) for h in hits] == [("hostile-8001", "newest 8001")]


@pytest.mark.parametrize("day", [AS_OF, LATER])
def test_github_documents_derive_or_are_skipped_never_500(
    srv: ReplayServer, http: requests.Session, day: date
) -> None:
    srv.set_date(day)
    records = {
        name: record
        for _, record in hostile.served_packages()
        if isinstance(record, dict) and (name := github_repository(record.get("repo_url")))
    }
    assert len(records) > 60
    for name in records:
        repo = get(http, f"{srv.base_url}/repos/{name}")
        assert repo.status_code in DERIVED_STATUSES
        weekly = get(http, f"{srv.base_url}/repos/{name}/stats/participation")
        assert weekly.status_code in DERIVED_STATUSES
        if repo.status_code == 200:
            rid = repo.json()["id"]
            assert get(http, f"{srv.base_url}/repositories/{rid}").json() == repo.json()
    names = sorted(records)
    for start in range(0, len(names), 50):
        batch = names[start : start + 50]
        query = " ".join(
            f'r{i}: repository(owner: "{n.split("/")[0]}", name: "{n.split("/")[1]}") {{ databaseId }}'
            for i, n in enumerate(batch)
        )
        answer = http.post(f"{srv.base_url}/graphql", json={"query": f"query {{ {query} }}"})
        assert answer.status_code == 200
        assert set(answer.json()["data"]) == {f"r{i}" for i in range(len(batch))}
    assert get(http, f"{srv.base_url}/repositories/{'9' * 5000}").status_code == 404


def test_shipped_github_and_pypi_documents_are_served_as_received(
    srv: ReplayServer, http: requests.Session
) -> None:
    for full_name, doc in hostile.expected_github().items():
        assert get(http, f"{srv.base_url}/repos/{full_name}").json() == doc
    huge = get(http, f"{srv.base_url}/repositories/{2**70}").json()
    assert huge["full_name"] == "acme/hostile-8000" and huge["stargazers_count"] == "lots"
    node = http.post(
        f"{srv.base_url}/graphql",
        json={"query": 'query { a: repository(owner: "acme", name: "hostile-8000") { databaseId } }'},
    ).json()["data"]["a"]
    assert node["databaseId"] == 2**70 and node["repositoryTopics"] == {"nodes": []}
    for name, doc in hostile.expected_pypi().items():
        answer = get(http, f"{srv.base_url}/pypi/{name}/json", allow_redirects=True)
        assert answer.json() == doc
        serial = doc["last_serial"]
        assert answer.headers.get("X-PyPI-Last-Serial") == (str(serial) if type(serial) is int else None)
    assert "X-Evil" not in get(http, f"{srv.base_url}/pypi/hostile-serial/json").headers


@pytest.mark.parametrize("day", [AS_OF, LATER])
def test_pypi_documents_derive_or_are_skipped_never_500(
    srv: ReplayServer, http: requests.Session, day: date
) -> None:
    srv.set_date(day)
    named = [
        (entry, record, name)
        for entry, record in hostile.served_packages()
        if isinstance(record, dict) and (name := pypi_project_name(record.get("pypi_url")))
    ]
    # Only records the server can evolve have a project; a name several records share is derived once.
    derivable = Counter(normalize_name(name) for entry, _, name in named if entry.evolves)
    assert len(derivable) > 40
    for entry, record, name in named:
        if len(name) > 1000:
            continue  # a 1 MB URL path; the server derives nothing from its record anyway
        answer = get(http, f"{srv.base_url}/pypi/{name}/json", allow_redirects=True)
        assert answer.status_code == (200 if normalize_name(name) in derivable else 404), entry.label
        if entry.evolves and derivable[normalize_name(name)] == 1 and day == AS_OF:
            assert answer.json()["info"]["version"] == record["pypi_version"], entry.label
    index = get(http, f"{srv.base_url}/simple/").json()
    assert {"name": "hostile-serial", "_last-serial": "1\r\nX-Evil: 1"} in index["projects"]
