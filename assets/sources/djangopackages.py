"""The djangopackages.org API v4: whole lists in a few large pages, records exactly as received."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from assets.sources.http import HttpClient, SourceError, server_date

_API = "/api/v4"
# Pages beyond count / page size that a crawl still follows: records published while it runs add a
# page now and then; a list that keeps going past that is broken or hostile.
_SPARE_PAGES = 3


@dataclass(frozen=True)
class Page:
    """One list page the crawl asked for, usable or not: the guards compare these with what was kept."""

    path: str  # path + query relative to the base URL
    status: Literal["ok", "invalid"]
    count: int | None  # the page's own `count`; None when invalid
    results: int  # records in the page
    error: str | None  # why invalid: status, content type and the start of the body (scrubbed)


@dataclass(frozen=True)
class Listing:
    records: tuple[dict[str, Any], ...]  # unique by id, first occurrence kept, in the order served
    reported_count: int  # the list's own `count`, from its last usable page
    duplicates: int  # records dropped because an earlier page already held their id
    pages: tuple[Page, ...]  # in the order read


class DjangoPackagesClient:
    def __init__(self, http: HttpClient, page_size: int = 1000) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.http = http
        self.page_size = page_size

    def current_date(self) -> date:
        """The sources' current date: the day of the API root's ``Date`` header."""
        # Only the header matters: a root that answers with a maintenance page still tells the date.
        response = self.http.get(f"{_API}/", expect_json=False)
        try:
            return server_date(response)
        except ValueError as exc:
            raise SourceError(self.http.source, response.path, str(exc), status=response.status) from None

    def packages(self) -> Listing:
        return self._listing("packages")

    def categories(self) -> Listing:
        return self._listing("categories")

    def grids(self) -> Listing:
        return self._listing("grids")

    def package(self, id_or_slug: int | str) -> dict[str, Any] | None:
        response = self.http.get(f"{_API}/packages/{quote(str(id_or_slug), safe='')}/")
        if response.status == 404:
            return None
        return response.json()

    def _listing(self, resource: str) -> Listing:
        """Every record of a list, following its `next` links.

        A page that stays unusable after the HTTP retries (an HTML maintenance page, a cut or
        misshapen body, an error status) is recorded as invalid and the crawl goes on at the next
        offset, so one bad page costs its records, not the day. Only the first page cannot be
        skipped: without its `count` nothing says where the list ends.
        """
        # The list is ordered newest first, so a package added mid-crawl shifts every later page by
        # one and the first record of a page repeats the last of the previous one: dedupe by id.
        # Keys are the JSON text of the id so ids that are not ints (bad records, rejected
        # downstream) dedupe without crashing; records without an id are all kept.
        seen: set[str] = set()
        records: list[dict[str, Any]] = []
        duplicates = 0
        pages: list[Page] = []
        path = self.http.relative(f"{_API}/{resource}/", {"limit": self.page_size, "offset": 0})
        reported_count = 0
        max_pages = 1  # until the first page tells how long the list is
        while True:
            if any(page.path == path for page in pages):
                raise SourceError(self.http.source, path, "pagination loops back to a page already read")
            if len(pages) >= max_pages:
                reason = (
                    f"more than {max_pages} pages for a list of {pages[0].count} records at "
                    f"{self.page_size} a page"
                )
                raise SourceError(self.http.source, path, reason)
            page, body = self._page(path, first=not pages)
            pages.append(page)
            if body is None:
                path, offset = _next_offset(path, self.page_size)
                if offset >= reported_count:
                    break
                continue
            if len(pages) == 1:
                max_pages = math.ceil(body["count"] / self.page_size) + _SPARE_PAGES
            reported_count = body["count"]
            for record in body["results"]:
                key = _id_key(record)
                if key is not None and key in seen:
                    duplicates += 1
                    continue
                if key is not None:
                    seen.add(key)
                records.append(record)
            if body["next"] is None:
                break
            path = self.http.relative(body["next"])
        return Listing(tuple(records), reported_count, duplicates, tuple(pages))

    def _page(self, path: str, *, first: bool) -> tuple[Page, dict[str, Any] | None]:
        """The page at ``path`` and its body; the body is None when the page is unusable.

        Raises only when the first page is unusable (no `count`, so nothing to continue from): a later
        page that fails, even with no answer at all, is recorded and skipped, so the records already
        read are kept for the guards to judge (the source going down mid-crawl costs a few pages' retries).
        """
        try:
            response = self.http.get(path, shape=_is_page)
        except SourceError as exc:
            if first:
                raise
            return Page(exc.path, "invalid", None, 0, str(exc)), None
        if response.status != 200:  # 404: the list itself is gone
            reason = f"not a list page: {response.summary()}"
            error = SourceError(self.http.source, response.path, reason, status=response.status)
            if first:
                raise error
            return Page(response.path, "invalid", None, 0, str(error)), None
        body = response.json()
        return Page(response.path, "ok", body["count"], len(body["results"]), None), body


def _is_page(page: Any) -> bool:
    return (
        isinstance(page, dict)
        and type(page.get("count")) is int
        and page["count"] >= 0
        and isinstance(page.get("results"), list)
        and (page.get("next") is None or _is_link(page["next"]))
    )


def _is_link(link: Any) -> bool:
    # A `next` that cannot be parsed is part of an unusable page (skipped), not an error of the crawl.
    if not isinstance(link, str):
        return False
    try:
        urlsplit(link)
    except ValueError:
        return False
    return True


def _next_offset(path: str, page_size: int) -> tuple[str, int]:
    """The page after the one at ``path`` by limit/offset, and its offset: how to skip a bad page."""
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query))
    limit = int(query["limit"]) if query.get("limit", "").isdigit() else page_size
    offset = (int(query["offset"]) if query.get("offset", "").isdigit() else 0) + limit
    query.update(limit=str(limit), offset=str(offset))
    return f"{parts.path}?{urlencode(query)}", offset


def _id_key(record: Any) -> str | None:
    if not isinstance(record, dict) or record.get("id") is None:
        return None
    return json.dumps(record["id"], sort_keys=True)
