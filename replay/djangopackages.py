"""The djangopackages API v4: lists with DRF's limit/offset pages, details by id or slug, and search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from urllib.parse import parse_qs, unquote, urlencode

from replay import derive
from replay.catalogue import Catalogue, Listing, field
from replay.evolve import PackageState, Profile
from replay.names import api_link
from replay.protocol import Record, Request, Response, answer, encode, is_digits, moved
from replay.times import api_time

PAGE_SIZE = 20
SEARCH_SIZE = 20


def owns(path: str) -> bool:
    # GitLab's API shares the /api/v4 prefix on the one replay port; its projects are not djangopackages'.
    return (path == "/api/v4" or path.startswith("/api/v4/")) and not path.startswith("/api/v4/projects")


class DjangoPackagesAPI:
    source = "djangopackages"

    def __init__(self, catalogue: Catalogue) -> None:
        bundle = catalogue.bundle
        self.catalogue = catalogue
        # Categories are looked up by id only; grids, like packages, by id or slug.
        self._groups = {
            "categories": Listing.of("Category", bundle.categories, slugs=False),
            "grids": Listing.of("Grid", bundle.grids),
        }
        self._category_titles = {
            r["id"]: r.get("title") for r in bundle.categories if type(field(r, "id")) is int
        }

    def route(self, request: Request, day: date, now: datetime) -> Response:
        if request.method != "GET":
            return answer(405, {"detail": f'Method "{request.method}" not allowed.'})
        if not request.path.endswith("/"):
            # Django's APPEND_SLASH.
            query = f"?{request.query}" if request.query else ""
            return moved(f"http://{request.host}{request.path}/{query}")
        listing = self.catalogue.listing
        parts = [unquote(p) for p in request.path.removeprefix("/api/v4").split("/") if p]
        match parts:
            case []:
                root = f"http://{request.host}/api/v4"
                return answer(200, {k: f"{root}/{k}/" for k in ("packages", "categories", "grids", "search")})
            case ["packages"]:
                return _page(request, self.catalogue.view(day).encoded)
            case ["packages", key]:
                found = listing.find(key)
                if found is None:
                    return _no_match(listing)
                return Response(200, self.catalogue.view(day).encoded[found])
            case [("categories" | "grids") as kind]:
                return _page(request, self._groups[kind].encoded)
            case [("categories" | "grids") as kind, key]:
                group = self._groups[kind]
                found = group.find(key)
                if found is None:
                    return _no_match(group)
                return Response(200, group.encoded[found])
            case ["search"]:
                return answer(200, self._search(request, day))
        return answer(404, {"detail": "Not found."})

    def _search(self, request: Request, day: date) -> list[Record]:
        """The v4 search: a bare list of the best title/slug matches, most-starred first."""
        q = (parse_qs(request.query).get("q") or [""])[-1].strip().lower()
        if not q:
            return []
        view = self.catalogue.view(day)
        hits = [
            i
            for i, s in enumerate(view.states)
            if isinstance(s.record, dict)
            and (q in str(s.record.get("title", "")).lower() or q in str(s.record.get("slug", "")).lower())
        ]
        hits.sort(key=lambda i: -_stars(view.states[i].record))
        return [self._search_item(view.states[i], self.catalogue.profiles[i]) for i in hits[:SEARCH_SIZE]]

    def _search_item(self, state: PackageState, prof: Profile | None) -> Record:
        record = state.record
        title, slug = str(record.get("title", "")), str(record.get("slug", ""))
        title_short = title.removeprefix("django-")
        history = derive.release_history(state, prof) if prof else []
        category = api_link(record.get("category"), "categories")
        participants = record.get("participants")
        return {
            "description": record.get("repo_description"),
            "title": title,
            "created": record.get("created"),
            "modified": record.get("modified"),
            "weight": _stars(record),
            "item_type": "package",
            "title_no_prefix": title_short,
            "slug": slug,
            "slug_no_prefix": slug.removeprefix("django-"),
            "clean_title": re.sub(r"[^a-z0-9]", "", title_short.lower()),
            "category": self._category_titles.get(category[1]) if category else None,
            "absolute_url": f"/packages/p/{slug}/",
            "repo_watchers": record.get("repo_watchers"),
            "repo_forks": record.get("repo_forks"),
            "pypi_downloads": 0,
            "usage": 0,
            "participants": ",".join(map(str, participants)) if isinstance(participants, list) else "",
            "last_committed": record.get("last_updated"),
            "last_released": api_time(history[-1].uploaded, micro=True) if history else None,
        }


def _page(request: Request, items: Sequence[bytes]) -> Response:
    """DRF LimitOffsetPagination: absolute next/previous links that keep the other parameters."""
    params = parse_qs(request.query, keep_blank_values=True)
    try:
        limit = _int_param(params, "limit", PAGE_SIZE, minimum=1)
        offset = _int_param(params, "offset", 0, minimum=0)
    except ValueError as exc:
        return answer(400, {"detail": str(exc)})

    def link(**changes: int | None) -> bytes:
        query = dict(params)
        for key, value in changes.items():
            if value is None:
                query.pop(key, None)
            else:
                query[key] = [str(value)]
        return encode(f"http://{request.host}{request.path}?{urlencode(sorted(query.items()), doseq=True)}")

    count = len(items)
    after = link(limit=limit, offset=offset + limit) if offset + limit < count else b"null"
    if offset <= 0:
        before = b"null"
    else:
        before = link(limit=limit, offset=offset - limit if offset - limit > 0 else None)
    results = b",".join(items[offset : offset + limit])
    body = b'{"count":%d,"next":%s,"previous":%s,"results":[%s]}' % (count, after, before, results)
    return Response(200, body)


def _no_match(listing: Listing) -> Response:
    return answer(404, {"detail": f"No {listing.noun} matches the given query."})


def _int_param(params: dict[str, list[str]], name: str, default: int, *, minimum: int) -> int:
    values = params.get(name)
    if not values:
        return default
    raw = values[-1].strip()
    if not is_digits(raw) or int(raw) < minimum:
        kind = "positive" if minimum else "non-negative"
        raise ValueError(f"Invalid {name}: {values[-1]!r} is not a {kind} integer.")
    return int(raw)


def _stars(record: Record) -> int:
    stars = record.get("repo_watchers")
    return stars if type(stars) is int else 0
