from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from assets.sources.djangopackages import DjangoPackagesClient
from assets.sources.http import SourceError
from tests.sources.fake_http import FakeServer, Harness, Reply, Seen


class Catalogue:
    """A djangopackages-like list endpoint: newest first, limit/offset, absolute `next` links."""

    def __init__(self, records: list[Any], link_host: str) -> None:
        self.records = records
        self.link_host = link_host  # the host the API writes into its links
        self.after_each_page: list[Any] = []  # records published while the crawl is under way

    def __call__(self, seen: Seen) -> Reply:
        limit, offset = int(seen.query.get("limit", 20)), int(seen.query.get("offset", 0))
        page = self.records[offset : offset + limit]
        more = offset + limit < len(self.records)
        path = seen.path.split("?")[0]
        next_link = f"{self.link_host}{path}?limit={limit}&offset={offset + limit}" if more else None
        body = {"count": len(self.records), "next": next_link, "previous": None, "results": page}
        if self.after_each_page:
            self.records.insert(0, self.after_each_page.pop(0))
        return Reply(200, body)


def package(package_id: Any, **fields: Any) -> dict[str, Any]:
    return {"id": package_id, "slug": f"pkg-{package_id}", "repo_watchers": 1, **fields}


def test_pagination_dedupes_a_record_that_drifts_across_pages(
    harness: Harness, server: FakeServer, make_server
) -> None:
    elsewhere = make_server()  # the host the API's absolute `next` links name
    catalogue = Catalogue([package(i) for i in range(10, 0, -1)], link_host=elsewhere.base_url)
    catalogue.after_each_page = [package(11)]  # published after page 1: page 2 repeats id 7
    server.on("GET", "/api/v4/packages/", catalogue)

    listing = DjangoPackagesClient(harness.client(source="djangopackages"), page_size=4).packages()

    assert [r["id"] for r in listing.records] == list(range(10, 0, -1))
    assert (listing.duplicates, listing.reported_count, listing.pages) == (1, 11, 3)
    assert [s.path for s in server.seen()] == [
        "/api/v4/packages/?limit=4&offset=0",
        "/api/v4/packages/?limit=4&offset=4",
        "/api/v4/packages/?limit=4&offset=8",
    ]
    assert elsewhere.requests == []
    assert harness.log.count("djangopackages") == 3


def test_records_are_kept_as_received_even_with_unusable_ids(harness: Harness, server: FakeServer) -> None:
    odd = [
        package(3, repo_watchers="many"),
        package("abc"),
        package({"nested": 1}),
        {"slug": "no-id-1"},
        {"slug": "no-id-2"},
        package("abc", slug="again"),
        package(3, slug="repeat"),
        package(1.5),
    ]
    server.on("GET", "/api/v4/grids/", Catalogue(odd, link_host=server.base_url))

    listing = DjangoPackagesClient(harness.client(), page_size=3).grids()

    assert list(listing.records) == [odd[0], odd[1], odd[2], odd[3], odd[4], odd[7]]
    assert listing.records[0]["repo_watchers"] == "many"
    assert (listing.duplicates, listing.reported_count, listing.pages) == (2, 8, 3)


def test_a_single_large_page_is_one_request(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/api/v4/categories/", Catalogue([package(i) for i in range(5)], server.base_url))
    listing = DjangoPackagesClient(harness.client()).categories()
    assert len(listing.records) == 5 and listing.pages == 1
    assert server.seen()[0].query == {"limit": "1000", "offset": "0"}


def test_pagination_that_loops_is_an_error(harness: Harness, server: FakeServer) -> None:
    looping = Reply(200, {"count": 1, "next": f"{server.base_url}/api/v4/packages/?x=1", "results": []})
    server.on("GET", "/api/v4/packages/", looping)
    with pytest.raises(SourceError, match="loops back"):
        DjangoPackagesClient(harness.client()).packages()
    assert len(server.seen()) == 3


def test_a_list_that_is_not_a_page_is_an_error(harness: Harness, server: FakeServer) -> None:
    with pytest.raises(SourceError, match=r"not a list page \(HTTP 404\)"):
        DjangoPackagesClient(harness.client(source="djangopackages")).packages()


def test_package_by_id_or_slug_and_404(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/api/v4/packages/django-x/", Reply(200, package(7, slug="django-x")))
    client = DjangoPackagesClient(harness.client())
    assert client.package("django-x") == package(7, slug="django-x")
    assert client.package(404404) is None
    assert client.package("a/b") is None
    assert [s.path for s in server.seen()] == [
        "/api/v4/packages/django-x/",
        "/api/v4/packages/404404/",
        "/api/v4/packages/a%2Fb/",
    ]


def test_current_date_is_the_day_of_the_api_date_header(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/api/v4/", Reply(200, {"packages": "..."}, {"Date": "Sun, 01 Mar 2026 23:59:59 GMT"}))
    assert DjangoPackagesClient(harness.client()).current_date() == date(2026, 3, 1)
