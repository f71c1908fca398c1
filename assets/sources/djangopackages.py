"""The djangopackages.org API v4: whole lists in a few large pages, records exactly as received."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from assets.sources.http import HttpClient, SourceError, server_date

_API = "/api/v4"


@dataclass(frozen=True)
class Listing:
    records: tuple[dict[str, Any], ...]  # unique by id, first occurrence kept, in the order served
    reported_count: int  # the list's own `count`, from its last page
    duplicates: int  # records dropped because an earlier page already held their id
    pages: int


class DjangoPackagesClient:
    def __init__(self, http: HttpClient, page_size: int = 1000) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.http = http
        self.page_size = page_size

    def current_date(self) -> date:
        """The sources' current date: the day of the API root's ``Date`` header."""
        response = self.http.get(f"{_API}/")
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
        # The list is ordered newest first, so a package added mid-crawl shifts every later page by
        # one and the first record of a page repeats the last of the previous one: dedupe by id.
        # Keys are the JSON text of the id so ids that are not ints (bad records, rejected
        # downstream) dedupe without crashing; records without an id are all kept.
        seen: set[str] = set()
        records: list[dict[str, Any]] = []
        duplicates = 0
        pages = 0
        visited: set[str] = set()
        link: str | None = f"{_API}/{resource}/"
        params: dict[str, int] | None = {"limit": self.page_size, "offset": 0}
        reported_count = 0
        while link is not None:
            response = self.http.get(link, params=params)
            pages += 1
            if response.path in visited:
                raise SourceError(
                    self.http.source, response.path, "pagination loops back to a page already read"
                )
            visited.add(response.path)
            page = response.json() if response.status == 200 else None
            if not _is_page(page):
                reason = f"not a list page (HTTP {response.status}); expected count, next and results"
                raise SourceError(self.http.source, response.path, reason, status=response.status)
            reported_count = page["count"]
            for record in page["results"]:
                key = _id_key(record)
                if key is not None and key in seen:
                    duplicates += 1
                    continue
                if key is not None:
                    seen.add(key)
                records.append(record)
            link, params = page["next"], None
        return Listing(tuple(records), reported_count, duplicates, pages)


def _is_page(page: Any) -> bool:
    return (
        isinstance(page, dict)
        and isinstance(page.get("count"), int)
        and isinstance(page.get("results"), list)
        and (page.get("next") is None or isinstance(page.get("next"), str))
    )


def _id_key(record: Any) -> str | None:
    if not isinstance(record, dict) or record.get("id") is None:
        return None
    return json.dumps(record["id"], sort_keys=True)
