from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from assets.sources.djangopackages import DjangoPackagesClient, Page
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
    assert (listing.duplicates, listing.reported_count) == (1, 11)
    assert listing.pages == (
        Page("/api/v4/packages/?limit=4&offset=0", "ok", 10, 4, None),
        Page("/api/v4/packages/?limit=4&offset=4", "ok", 11, 4, None),
        Page("/api/v4/packages/?limit=4&offset=8", "ok", 11, 3, None),
    )
    assert [s.path for s in server.seen()] == [page.path for page in listing.pages]
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
    assert (listing.duplicates, listing.reported_count, len(listing.pages)) == (2, 8, 3)


def test_a_single_large_page_is_one_request(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/api/v4/categories/", Catalogue([package(i) for i in range(5)], server.base_url))
    listing = DjangoPackagesClient(harness.client()).categories()
    assert len(listing.records) == 5
    assert listing.pages == (Page("/api/v4/categories/?limit=1000&offset=0", "ok", 5, 5, None),)
    assert server.seen()[0].query == {"limit": "1000", "offset": "0"}


def test_pagination_that_loops_is_an_error(harness: Harness, server: FakeServer) -> None:
    looping = Reply(200, {"count": 1, "next": f"{server.base_url}/api/v4/packages/?x=1", "results": []})
    server.on("GET", "/api/v4/packages/", looping)
    with pytest.raises(SourceError, match=r"GET /api/v4/packages/\?x=1 failed: .*loops back"):
        DjangoPackagesClient(harness.client()).packages()
    assert [s.path for s in server.seen()] == [
        "/api/v4/packages/?limit=1000&offset=0",
        "/api/v4/packages/?x=1",
    ]


def test_a_list_that_is_not_a_page_is_an_error(harness: Harness, server: FakeServer) -> None:
    with pytest.raises(SourceError, match=r"offset=0 failed \(status 404\): not a list page: HTTP 404"):
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


MAINTENANCE = (
    b"<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n<body>Back soon</body></html>"
)


def failing_at(offsets: set[str], reply: Reply, catalogue: Catalogue) -> Any:
    """The catalogue, except that the pages at ``offsets`` always answer ``reply``."""
    return lambda seen: reply if seen.query.get("offset") in offsets else catalogue(seen)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (Reply(200, MAINTENANCE, {"Content-Type": "text/html"}), r"HTTP 200 \(text/html\) is not JSON"),
        (
            Reply(
                200, b'{"count": 10, "next": null, "results": [{"id": 1', {"Content-Type": "application/json"}
            ),
            r"HTTP 200 \(application/json\) is not JSON",
        ),
        (
            Reply(200, {"detail": "maintenance"}),
            r"is not the expected document: \{\"detail\": \"maintenance\"\}",
        ),
        (Reply(200, {"count": "10", "next": None, "results": []}), "is not the expected document"),
        (
            Reply(503, MAINTENANCE, {"Content-Type": "text/html"}),
            r"HTTP 503 \(text/html\): <!DOCTYPE html> <html>",
        ),
    ],
)
def test_an_unusable_page_is_retried_then_recorded_and_the_crawl_goes_on(
    harness: Harness, server: FakeServer, bad: Reply, reason: str
) -> None:
    catalogue = Catalogue([package(i) for i in range(10, 0, -1)], link_host=server.base_url)
    server.on("GET", "/api/v4/packages/", failing_at({"4"}, bad, catalogue))

    listing = DjangoPackagesClient(
        harness.client(source="djangopackages", max_attempts=3), page_size=4
    ).packages()

    assert [r["id"] for r in listing.records] == [10, 9, 8, 7, 2, 1]
    assert (listing.reported_count, listing.duplicates) == (10, 0)
    ok, invalid, last = listing.pages
    assert ok == Page("/api/v4/packages/?limit=4&offset=0", "ok", 10, 4, None)
    assert last == Page("/api/v4/packages/?limit=4&offset=8", "ok", 10, 2, None)
    assert (invalid.path, invalid.status, invalid.count, invalid.results) == (
        "/api/v4/packages/?limit=4&offset=4",
        "invalid",
        None,
        0,
    )
    assert invalid.error is not None and "\n" not in invalid.error
    prefix = (
        r"djangopackages: GET /api/v4/packages/\?limit=4&offset=4 failed \(status \d+, 3 attempts\): HTTP "
    )
    assert re.match(prefix, invalid.error) and re.search(reason, invalid.error)
    # One record per page; the bad one asked three times, failed, and only it.
    assert [(r.path, r.attempts, r.ok) for r in harness.log.records] == [
        ("/api/v4/packages/?limit=4&offset=0", 1, True),
        ("/api/v4/packages/?limit=4&offset=4", 3, False),
        ("/api/v4/packages/?limit=4&offset=8", 1, True),
    ]
    assert len(server.seen()) == 5


def test_a_page_that_recovers_within_the_retries_is_ok(harness: Harness, server: FakeServer) -> None:
    catalogue = Catalogue([package(i) for i in range(6, 0, -1)], link_host=server.base_url)
    html = Reply(200, MAINTENANCE, {"Content-Type": "text/html"})
    server.on("GET", "/api/v4/packages/", catalogue, html, catalogue)

    listing = DjangoPackagesClient(harness.client(), page_size=4).packages()

    assert len(listing.records) == 6 and [p.status for p in listing.pages] == ["ok", "ok"]
    assert [r.attempts for r in harness.log.records] == [1, 2] and harness.log.failed() == []


def test_an_unusable_last_page_ends_the_crawl_at_the_reported_count(
    harness: Harness, server: FakeServer
) -> None:
    catalogue = Catalogue([package(i) for i in range(10, 0, -1)], link_host=server.base_url)
    html = Reply(200, MAINTENANCE, {"Content-Type": "text/html"})
    server.on("GET", "/api/v4/packages/", failing_at({"8"}, html, catalogue))

    listing = DjangoPackagesClient(harness.client(max_attempts=2), page_size=4).packages()

    assert [p.status for p in listing.pages] == ["ok", "ok", "invalid"]
    assert len(listing.records) == 8 and listing.reported_count == 10
    assert harness.log.count() == 3 and len(server.seen()) == 4


def test_consecutive_unusable_pages_each_advance_by_the_page_size(
    harness: Harness, server: FakeServer
) -> None:
    catalogue = Catalogue([package(i) for i in range(10, 0, -1)], link_host=server.base_url)
    server.on("GET", "/api/v4/packages/", failing_at({"2", "4"}, Reply(200, {"oops": 1}), catalogue))

    listing = DjangoPackagesClient(harness.client(max_attempts=1), page_size=2).packages()

    assert [(p.path.rsplit("=", 1)[1], p.status) for p in listing.pages] == [
        ("0", "ok"),
        ("2", "invalid"),
        ("4", "invalid"),
        ("6", "ok"),
        ("8", "ok"),
    ]
    assert [r["id"] for r in listing.records] == [10, 9, 4, 3, 2, 1]


def test_an_unusable_first_page_fails_naming_the_url(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/api/v4/grids/", Reply(200, MAINTENANCE, {"Content-Type": "text/html"}))
    with pytest.raises(SourceError) as caught:
        DjangoPackagesClient(harness.client(source="djangopackages", max_attempts=2)).grids()
    assert str(caught.value).startswith(
        "djangopackages: GET /api/v4/grids/?limit=1000&offset=0 failed (status 200, 2 attempts): "
        "HTTP 200 (text/html) is not JSON"
    )
    assert caught.value.answered
    assert harness.log.count() == 1 and len(server.seen()) == 2


def test_a_later_page_nothing_answered_for_is_skipped_and_the_records_read_are_kept(
    harness: Harness, server: FakeServer
) -> None:
    catalogue = Catalogue([package(i) for i in range(10, 0, -1)], link_host=server.base_url)
    server.on("GET", "/api/v4/packages/", failing_at({"4"}, Reply(drop=True), catalogue))
    listing = DjangoPackagesClient(harness.client(max_attempts=2), page_size=4).packages()
    assert [p.status for p in listing.pages] == ["ok", "invalid", "ok"]
    assert listing.pages[1].path == "/api/v4/packages/?limit=4&offset=4"
    assert "2 attempts" in listing.pages[1].error
    assert [r["id"] for r in listing.records] == [10, 9, 8, 7, 2, 1]
    assert [r.ok for r in harness.log.records] == [True, False, True]


def test_a_list_that_runs_past_its_count_is_capped(harness: Harness, server: FakeServer) -> None:
    def endless(seen: Seen) -> Reply:
        offset = int(seen.query["offset"])
        nxt = f"{server.base_url}/api/v4/packages/?limit=2&offset={offset + 2}"
        return Reply(200, {"count": 5, "next": nxt, "results": [package(offset), package(offset + 1)]})

    server.on("GET", "/api/v4/packages/", endless)
    with pytest.raises(SourceError) as caught:
        DjangoPackagesClient(harness.client(source="djangopackages"), page_size=2).packages()

    # ceil(5 / 2) + 3 = 6 pages are read; the 7th is refused before it is asked for.
    assert str(caught.value) == (
        "djangopackages: GET /api/v4/packages/?limit=2&offset=12 failed: "
        "more than 6 pages for a list of 5 records at 2 a page"
    )
    assert len(server.seen()) == harness.log.count() == 6


def test_a_list_that_grows_within_the_spare_pages_is_read_whole(harness: Harness, server: FakeServer) -> None:
    catalogue = Catalogue([package(i) for i in range(4, 0, -1)], link_host=server.base_url)
    catalogue.after_each_page = [package(i) for i in range(5, 11)]  # 6 published during the crawl

    def growing(seen: Seen) -> Reply:
        reply = catalogue(seen)  # publishes one after the page
        if catalogue.after_each_page:  # and one more: two a page, as fast as the crawl reads
            catalogue.records.insert(0, catalogue.after_each_page.pop(0))
        return reply

    server.on("GET", "/api/v4/packages/", growing)

    listing = DjangoPackagesClient(harness.client(), page_size=2).packages()

    # ceil(4 / 2) + 3 = 5 pages allowed; the crawl needs all 5, because the list grew under it.
    assert [(p.status, p.count) for p in listing.pages] == [
        ("ok", 4),
        ("ok", 6),
        ("ok", 8),
        ("ok", 10),
        ("ok", 10),
    ]
    assert listing.reported_count == 10


def test_an_echoed_token_never_reaches_a_page_error(harness: Harness, server: FakeServer) -> None:
    token = "ghp_Sekrit0123456789"
    catalogue = Catalogue([package(i) for i in range(4, 0, -1)], link_host=server.base_url)
    echo = Reply(200, f"<html>denied for {token.upper()}</html>".encode(), {"Content-Type": "text/html"})
    server.on("GET", "/api/v4/packages/", failing_at({"2"}, echo, catalogue))

    client = harness.client(headers={"Authorization": f"token {token}"}, max_attempts=1)
    listing = DjangoPackagesClient(client, page_size=2).packages()

    error = listing.pages[1].error or ""
    assert "denied for ***" in error and token.lower() not in error.lower()
