"""PyPI: the JSON API's project documents and the PEP 691 simple index with every project's last serial."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import unquote

from replay import derive
from replay.catalogue import Catalogue
from replay.protocol import Record, Request, Response, answer, encode, moved
from warehouse.identifiers import normalize_name, pypi_project_name

_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_PROJECT_PATH = re.compile(r"/pypi/([^/]+)/json/?")


def owns(path: str) -> bool:
    return path.startswith(("/pypi/", "/simple"))


@dataclass(frozen=True)
class _Project:
    name: str
    package: int | None
    doc: Record | None


class PyPIAPI:
    source = "pypi"

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._projects = self._index()

    def _index(self) -> dict[str, _Project]:
        projects: dict[str, _Project] = {}
        for i in self.catalogue.usable():
            prof = self.catalogue.profiles[i]
            name = pypi_project_name(self.catalogue.packages[i].get("pypi_url"))
            if name is not None and prof is not None and prof.version is not None:
                projects.setdefault(normalize_name(name), _Project(name, i, None))
        for key, doc in self.catalogue.bundle.pypi.items():
            info = doc.get("info")
            name = info.get("name") if isinstance(info, dict) else None
            projects[key] = _Project(name if isinstance(name, str) else key, None, doc)
        return projects

    def _doc(self, day: date, project: _Project) -> Record:
        if project.doc is not None:
            return project.doc
        return derive.pypi_doc(*self.catalogue.derived(day, project.package), project.name)

    def _serial(self, day: date, project: _Project) -> object:
        if project.doc is not None:
            return project.doc.get("last_serial")
        return derive.last_serial(derive.release_history(*self.catalogue.derived(day, project.package))[-1])

    def route(self, request: Request, day: date, now: datetime) -> Response:
        if request.method != "GET":
            return answer(405, {"message": "Method Not Allowed"})
        if request.path in ("/simple", "/simple/"):
            return self._simple_index(day)
        match = _PROJECT_PATH.fullmatch(request.path)
        name = unquote(match.group(1)) if match else ""
        project = self._projects.get(normalize_name(name))
        if project is None:
            return answer(404, {"message": "Not Found"})
        if name != normalize_name(name):
            return moved(f"http://{request.host}/pypi/{normalize_name(name)}/json")
        doc = self._doc(day, project)
        serial = doc.get("last_serial")
        # A header carries an integer: a shipped document's odd serial must not become a header line.
        headers = (("X-PyPI-Last-Serial", str(serial)),) if type(serial) is int else ()
        return answer(200, doc, *headers, conditional=True)

    def _simple_index(self, day: date) -> Response:
        """PEP 691 project list with PyPI's `_last-serial`: how a warm run finds changed projects."""
        cached = self.catalogue.view(day).cached
        if "simple_index" not in cached:  # built on first request: most runs never ask
            serials = {p.name: self._serial(day, p) for p in self._projects.values()}
            newest = max((s for s in serials.values() if type(s) is int), default=0)
            index = {
                "meta": {"api-version": "1.1", "_last-serial": newest},
                "projects": [{"name": n, "_last-serial": s} for n, s in sorted(serials.items())],
            }
            headers = (("X-PyPI-Last-Serial", str(newest)),)
            cached["simple_index"] = Response(200, encode(index), headers, True, _SIMPLE_JSON)
        response: Response = cached["simple_index"]
        return response
