"""PyPI's JSON API: one project document per request, by PEP 503 normalized name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from assets.sources.http import HttpClient, SourceError, bounded_map
from warehouse.identifiers import normalize_name


class PyPIClient:
    def __init__(self, http: HttpClient, concurrency: int = 4) -> None:
        self.http = http
        # PyPI asks for modest, identified traffic rather than bursts.
        self.concurrency = concurrency

    def project(self, name: str) -> dict[str, Any] | None:
        """The JSON API document of a project, or None when PyPI does not know it."""
        # Asking for the normalized name saves PyPI's 301 hop; one 301 is still followed in case
        # the index canonicalizes differently.
        response = self.http.get(f"/pypi/{normalize_name(name)}/json", ok_statuses=(301,))
        if response.status == 301:
            location = response.headers.get("location")
            if not location:
                raise SourceError(
                    self.http.source, response.path, "301 without a Location header", status=301
                )
            response = self.http.get(location)
        return None if response.status == 404 else response.json()

    def serials(self) -> dict[str, int]:
        """Every project's last serial from the simple index (PEP 691 JSON), by normalized name: one
        request that tells which projects changed since they were last fetched."""
        response = self.http.get("/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        return {
            normalize_name(p["name"]): p["_last-serial"]
            for p in response.json().get("projects", [])
            if isinstance(p, dict)
            and isinstance(p.get("name"), str)
            and isinstance(p.get("_last-serial"), int)
        }

    def projects(self, names: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Documents by the names given; a project named twice (in any spelling) is fetched once."""
        wanted = list(dict.fromkeys(names))
        normalized = list(dict.fromkeys(map(normalize_name, wanted)))
        documents = dict(
            zip(normalized, bounded_map(self.project, normalized, self.concurrency), strict=True)
        )
        return {name: documents[normalize_name(name)] for name in wanted}
