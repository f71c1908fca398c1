"""PyPI's JSON API: one project document per request, by PEP 503 normalized name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from assets.sources.http import HttpClient, SourceError, bounded_map
from warehouse.identifiers import normalize_name

# The simple index lists every project on the index, tens of MB on a large one: it is the one answer
# allowed past the per-response cap, up to this.
INDEX_MAX_BODY_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ProjectResult:
    status: Literal["ok", "missing", "failed"]
    doc: dict[str, Any] | None  # the JSON API document as received; None unless "ok"
    error: str | None = None  # why "failed": the source error, scrubbed


class PyPIClient:
    def __init__(self, http: HttpClient, concurrency: int = 10) -> None:
        self.http = http
        # The JSON API is served from a CDN that tolerates concurrent clients (mirrors use about 10); PyPI
        # asks for identified traffic, not thousands of requests in minutes, which the serials already avoid.
        self.concurrency = concurrency

    def project(self, name: str) -> dict[str, Any] | None:
        """The JSON API document of a project, or None when PyPI does not know it."""
        # Asking for the normalized name saves PyPI's 301 hop; one 301 is still followed in case
        # the index canonicalizes differently.
        response = self.http.get(f"/pypi/{normalize_name(name)}/json", ok_statuses=(301,), shape=_is_object)
        if response.status == 301:
            location = response.headers.get("location")
            if not location:
                raise SourceError(
                    self.http.source, response.path, "301 without a Location header", status=301
                )
            response = self.http.get(location, shape=_is_object)
        return None if response.status == 404 else response.json()

    def serials(self) -> dict[str, int]:
        """Every project's last serial from the simple index (PEP 691 JSON), by normalized name: one
        request that tells which projects changed since they were last fetched."""
        response = self.http.get(
            "/simple/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            shape=_is_index,
            max_body_bytes=max(self.http.max_body_bytes, INDEX_MAX_BODY_BYTES),
        )
        return {
            normalize_name(p["name"]): p["_last-serial"]
            for p in response.json()["projects"]
            if isinstance(p, dict) and isinstance(p.get("name"), str) and type(p.get("_last-serial")) is int
        }

    def projects(self, names: Iterable[str]) -> dict[str, ProjectResult]:
        """Results by the names given; a project named twice (in any spelling) is fetched once.

        A project that still fails after the HTTP retries (an error status, a timeout, a body that is
        not a JSON object or is over the cap, a redirect loop) is "failed" for that project alone.
        """
        wanted = list(dict.fromkeys(names))
        normalized = list(dict.fromkeys(map(normalize_name, wanted)))
        results = dict(zip(normalized, bounded_map(self._result, normalized, self.concurrency), strict=True))
        return {name: results[normalize_name(name)] for name in wanted}

    def _result(self, name: str) -> ProjectResult:
        try:
            doc = self.project(name)
        except SourceError as error:
            return ProjectResult("failed", None, str(error))
        return ProjectResult("missing", None) if doc is None else ProjectResult("ok", doc)


def _is_object(body: Any) -> bool:
    return isinstance(body, dict)


def _is_index(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("projects"), list)
