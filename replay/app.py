"""The replayed APIs (djangopackages v4, GitHub REST and GraphQL, PyPI JSON) and the admin endpoints.

`ReplayApp.dispatch` maps a parsed request to what the HTTP layer must do; it holds the clock, the
fault rules, the counters and a small cache of per-date views. Everything is thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import threading
import traceback
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from replay import SOURCES, derive
from replay.bundle import Bundle
from replay.evolve import PackageState, Profile, evolve, profile
from replay.faults import FaultRule, Faults, RateFault
from replay.names import api_link
from replay.stable import unit
from replay.times import api_time, github_time
from warehouse.identifiers import github_repository, normalize_name, pypi_project_name

Record = dict[str, Any]

PAGE_SIZE = 20
SEARCH_SIZE = 20
GITHUB_HOURLY_LIMIT = 5000
GRAPHQL_MAX_REPOSITORIES = 100
_VIEWS_KEPT = 4  # a demo walks dates in order; a 5,000-package view weighs a few tens of MB
_JSON = "application/json"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_HTML = "text/html; charset=utf-8"
_GITHUB_DOCS = "https://docs.github.com/rest"
_REPO_PATH = re.compile(r"/repos/([^/]+)/([^/]+?)(/stats/participation)?/?")
_REPO_ID_PATH = re.compile(r"/repositories/(\d+)(/stats/participation)?/?")
_PROJECT_PATH = re.compile(r"/pypi/([^/]+)/json/?")
_GRAPHQL_REPOSITORY = re.compile(r"(\w+)\s*:\s*repository\s*\(([^)]*)\)")
_INT_DIGITS = 4300  # int() refuses longer decimal strings; no id that long can exist
# What a CDN or a proxy answers when the service behind it is down: 200, and a page for people.
_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n"
    b"<body><h1>We&rsquo;ll be back soon</h1><p>The service is down for scheduled maintenance.</p>"
    b"</body></html>\n"
)
# Deterministic shares of GitHub repositories with a history of their own.
_GONE, _BLOCKED, _MOVED = 0.01, 0.015, 0.035  # cumulative: 1% deleted, 0.5% blocked, 2% renamed
_COMPUTING = 0.05  # answer 202 to the first participation request of each day


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    host: str  # as the client addressed us: links must lead back the same way


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    conditional: bool = False  # honours If-None-Match (GitHub REST, PyPI)
    content_type: str = _JSON


@dataclass(frozen=True)
class Outcome:
    """What the HTTP layer does: wait, then answer (maybe cut short) or hang up (response None)."""

    response: Response | None
    delay: float = 0.0
    truncate: bool = False


@dataclass(frozen=True)
class _Repo:
    full_name: str  # the name it answers under now
    rid: int
    package: int | None  # position of the package it derives from
    doc: Record | None  # shipped in the bundle: served as is


@dataclass(frozen=True)
class _Project:
    name: str
    package: int | None
    doc: Record | None


@dataclass
class _View:
    """Packages on one date, in API order, with each record's JSON ready to splice into pages."""

    states: list[PackageState]
    encoded: list[bytes]
    simple_index: Response | None = None  # built on first request: most runs never ask


def _json(value: object) -> bytes:
    # A lone surrogate ("\ud800") has no UTF-8 form: it goes out as the escape a real API would send.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "backslashreplace")


def _answer(status: int, value: object, *headers: tuple[str, str], conditional: bool = False) -> Response:
    return Response(status, _json(value), tuple(headers), conditional)


def _no_match(listing: _Listing) -> Response:
    return _answer(404, {"detail": f"No {listing.noun} matches the given query."})


def _moved(url: str) -> Response:
    return _answer(301, {"message": "Moved Permanently", "url": url}, ("Location", url))


def _field(record: object, name: str) -> Any:
    """A record's field, None for a record that is not an object."""
    return record.get(name) if isinstance(record, dict) else None


def _api_order(record: object) -> tuple[int, int]:
    """Newest first (-id); records whose id is not an integer follow, in bundle order."""
    pid = _field(record, "id")
    return (0, -pid) if type(pid) is int else (1, 0)


@dataclass(frozen=True)
class _Listing:
    """Records in API order, their JSON, and detail lookups (the newest record wins a shared slug)."""

    noun: str  # for DRF's "No Package matches the given query."
    records: list[Any]
    encoded: list[bytes]
    by_id: dict[int, int]
    by_slug: dict[str, int]

    @classmethod
    def of(cls, noun: str, records: Sequence[Any], *, slugs: bool = True) -> _Listing:
        ordered = sorted(records, key=_api_order)
        by_id: dict[int, int] = {}
        by_slug: dict[str, int] = {}
        for i, record in enumerate(ordered):
            if type(pid := _field(record, "id")) is int:
                by_id.setdefault(pid, i)
            if slugs and isinstance(slug := _field(record, "slug"), str):
                by_slug.setdefault(slug, i)
        return cls(noun, ordered, [_json(r) for r in ordered], by_id, by_slug)

    def find(self, key: str) -> int | None:
        if _is_digits(key):
            return self.by_id.get(int(key)) if len(key) <= _INT_DIGITS else None
        return self.by_slug.get(key)


class ReplayApp:
    def __init__(self, bundle: Bundle, day: date | None = None) -> None:
        self.bundle = bundle
        self.faults = Faults()
        self._lock = threading.Lock()
        self._date = day or bundle.as_of
        self._counts: Counter[str] = Counter()
        self._rate: dict[str, tuple[int, int]] = {}  # resource -> (reset epoch, used)
        self._computed: set[tuple[int, date]] = set()
        self._views: OrderedDict[date, _View] = OrderedDict()
        self._views_lock = threading.Lock()

        self._listing = _Listing.of("Package", bundle.packages)
        self._packages = self._listing.records
        self._profiles = [profile(r, bundle.as_of) for r in self._packages]
        # Categories are looked up by id only; grids, like packages, by id or slug.
        self._groups = {
            "categories": _Listing.of("Category", bundle.categories, slugs=False),
            "grids": _Listing.of("Grid", bundle.grids),
        }
        self._category_titles = {
            r["id"]: r.get("title") for r in bundle.categories if type(_field(r, "id")) is int
        }
        self._repos, self._repos_by_id = self._index_repos()
        self._projects = self._index_projects()

    # -- clock and counters -------------------------------------------------------------------

    @property
    def date(self) -> date:
        with self._lock:
            return self._date

    def set_date(self, day: date) -> None:
        with self._lock:
            self._date = day

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return {s: self._counts[s] for s in SOURCES}

    def reset_counts(self) -> None:
        """Also restarts GitHub's hourly quota: a benchmark run starts from a full window."""
        with self._lock:
            self._counts.clear()
            self._rate.clear()

    # -- dispatch -----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Outcome:
        day = self.date
        now = datetime.combine(day, datetime.now(UTC).time(), UTC)
        if request.path.startswith("/_replay/"):
            return Outcome(self._finish(None, request, self._admin(request), now))
        source = _source(request.path)
        if source:
            with self._lock:
                self._counts[source] += 1
        target = f"{request.path}?{request.query}" if request.query else request.path
        rule = self.faults.take(target)
        drawn = None if rule else self.faults.draw(source, participation=_participation(request.path))
        if rule is not None and rule.drop:
            return Outcome(None, rule.delay)
        if drawn is not None and drawn.kind == "timeout":
            return Outcome(None, drawn.hold)
        try:
            if rule is not None and rule.html:
                response = Response(200, _MAINTENANCE_PAGE, content_type=_HTML)
            elif rule is not None and rule.status is not None:
                response = _fault(rule)
            elif drawn is not None and drawn.kind != "truncate":
                response = _rate_fault(drawn)
            else:
                response = self._route(source, request, day, now)
        except Exception:
            # A bug must surface as a 500 the client can record, never as a dead connection.
            traceback.print_exc(file=sys.stderr)
            response = _answer(500, {"detail": "Replay server error."})
        finished = self._finish(source, request, response, now)
        truncate = bool(rule and rule.truncate) or (drawn is not None and drawn.kind == "truncate")
        return Outcome(finished, rule.delay if rule else 0.0, truncate)

    def _route(self, source: str | None, request: Request, day: date, now: datetime) -> Response:
        if source == "djangopackages":
            return self._djangopackages(request, day)
        if source == "github":
            return self._github(request, day, now)
        if source == "pypi":
            return self._pypi(request, day)
        return _answer(404, {"detail": "Not found."})

    def _finish(self, source: str | None, request: Request, response: Response, now: datetime) -> Response:
        status, body = response.status, response.body
        headers = [("Date", format_datetime(now, usegmt=True)), ("Content-Type", response.content_type)]
        if response.conditional and status == 200:
            etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
            headers.append(("ETag", etag))
            if _etag_matches(request.headers.get("if-none-match"), etag):
                status, body = 304, b""
        if source == "github":
            resource = "graphql" if request.path == "/graphql" else "core"
            # A 304 answer to a conditional request does not count against the primary limit.
            used, reset = self._use_rate(resource, now, 0 if status == 304 else 1)
            headers += [
                ("x-ratelimit-limit", str(GITHUB_HOURLY_LIMIT)),
                ("x-ratelimit-remaining", str(max(0, GITHUB_HOURLY_LIMIT - used))),
                ("x-ratelimit-used", str(used)),
                ("x-ratelimit-reset", str(reset)),
                ("x-ratelimit-resource", resource),
            ]
        headers.append(("Content-Length", str(len(body))))
        return Response(status, body, tuple(headers) + response.headers)

    def _use_rate(self, resource: str, now: datetime, cost: int) -> tuple[int, int]:
        reset = (int(now.timestamp()) // 3600 + 1) * 3600
        with self._lock:
            window, used = self._rate.get(resource, (reset, 0))
            used = (used if window == reset else 0) + cost
            self._rate[resource] = (reset, used)
        return used, reset

    def _view(self, day: date) -> _View:
        with self._views_lock:
            view = self._views.get(day)
            if view is not None:
                self._views.move_to_end(day)
                return view
            states = [
                evolve(r, p, self.bundle.as_of, day)
                for r, p in zip(self._packages, self._profiles, strict=True)
            ]
            encoded = [
                self._listing.encoded[i] if s.record is self._packages[i] else _json(s.record)
                for i, s in enumerate(states)
            ]
            view = self._views[day] = _View(states, encoded)
            while len(self._views) > _VIEWS_KEPT:
                self._views.popitem(last=False)
            return view

    # -- djangopackages -----------------------------------------------------------------------

    def _djangopackages(self, request: Request, day: date) -> Response:
        if request.method != "GET":
            return _answer(405, {"detail": f'Method "{request.method}" not allowed.'})
        if not request.path.endswith("/"):
            # Django's APPEND_SLASH.
            query = f"?{request.query}" if request.query else ""
            return _moved(f"http://{request.host}{request.path}/{query}")
        parts = [unquote(p) for p in request.path.removeprefix("/api/v4").split("/") if p]
        match parts:
            case []:
                root = f"http://{request.host}/api/v4"
                return _answer(
                    200, {k: f"{root}/{k}/" for k in ("packages", "categories", "grids", "search")}
                )
            case ["packages"]:
                return self._page(request, self._view(day).encoded)
            case ["packages", key]:
                found = self._listing.find(key)
                if found is None:
                    return _no_match(self._listing)
                return Response(200, self._view(day).encoded[found])
            case [("categories" | "grids") as kind]:
                return self._page(request, self._groups[kind].encoded)
            case [("categories" | "grids") as kind, key]:
                group = self._groups[kind]
                found = group.find(key)
                if found is None:
                    return _no_match(group)
                return Response(200, group.encoded[found])
            case ["search"]:
                return _answer(200, self._search(request, day))
        return _answer(404, {"detail": "Not found."})

    def _page(self, request: Request, items: Sequence[bytes]) -> Response:
        """DRF LimitOffsetPagination: absolute next/previous links that keep the other parameters."""
        params = parse_qs(request.query, keep_blank_values=True)
        try:
            limit = _int_param(params, "limit", PAGE_SIZE, minimum=1)
            offset = _int_param(params, "offset", 0, minimum=0)
        except ValueError as exc:
            return _answer(400, {"detail": str(exc)})

        def link(**changes: int | None) -> bytes:
            query = dict(params)
            for key, value in changes.items():
                if value is None:
                    query.pop(key, None)
                else:
                    query[key] = [str(value)]
            return _json(
                f"http://{request.host}{request.path}?{urlencode(sorted(query.items()), doseq=True)}"
            )

        count = len(items)
        after = link(limit=limit, offset=offset + limit) if offset + limit < count else b"null"
        if offset <= 0:
            before = b"null"
        else:
            before = link(limit=limit, offset=offset - limit if offset - limit > 0 else None)
        results = b",".join(items[offset : offset + limit])
        body = b'{"count":%d,"next":%s,"previous":%s,"results":[%s]}' % (count, after, before, results)
        return Response(200, body)

    def _search(self, request: Request, day: date) -> list[Record]:
        """The v4 search: a bare list of the best title/slug matches, most-starred first."""
        q = (parse_qs(request.query).get("q") or [""])[-1].strip().lower()
        if not q:
            return []
        view = self._view(day)
        hits = [
            i
            for i, s in enumerate(view.states)
            if isinstance(s.record, dict)
            and (q in str(s.record.get("title", "")).lower() or q in str(s.record.get("slug", "")).lower())
        ]
        hits.sort(key=lambda i: -_stars(view.states[i].record))
        return [self._search_item(view.states[i], self._profiles[i]) for i in hits[:SEARCH_SIZE]]

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

    # -- GitHub -------------------------------------------------------------------------------

    def _index_repos(self) -> tuple[dict[str, tuple[str, _Repo | None]], dict[int, _Repo]]:
        """Names (lower-case) -> (fate, repository); the oldest package owns a shared repository."""
        names: dict[str, tuple[str, _Repo | None]] = {}
        by_id: dict[int, _Repo] = {}
        usable = [i for i, p in enumerate(self._profiles) if p is not None]
        for i in sorted(usable, key=lambda i: self._packages[i]["id"]):
            full_name = github_repository(self._packages[i].get("repo_url"))
            if full_name is None or full_name.lower() in names:
                continue
            key = full_name.lower()
            fate = unit(key, "fate")
            repo = _Repo(full_name, derive.repo_id(key), i, None)
            if fate < _GONE:
                names[key] = ("gone", None)
            elif fate < _BLOCKED:
                names[key] = ("blocked", repo)
            elif fate < _MOVED:
                owner, name = full_name.split("/")
                repo = _Repo(f"{owner}-org/{name}", repo.rid, i, None)
                names[key] = ("moved", repo)
                names.setdefault(repo.full_name.lower(), ("ok", repo))
                by_id[repo.rid] = repo
            else:
                names[key] = ("ok", repo)
                by_id[repo.rid] = repo
        for key, doc in self.bundle.github.items():
            known = names.get(key, ("gone", None))[1]
            rid = doc.get("id") if type(doc.get("id")) is int else derive.repo_id(key)
            repo = _Repo(str(doc["full_name"]), rid, known.package if known else None, doc)
            names[key] = ("ok", repo)
            by_id[rid] = repo
        return names, by_id

    def _github(self, request: Request, day: date, now: datetime) -> Response:
        if request.path == "/graphql" and request.method == "POST":
            return self._graphql(request, day, now)
        if request.method == "GET" and (match := _REPO_PATH.fullmatch(request.path)):
            owner, name, stats = match.groups()
            key = f"{unquote(owner)}/{unquote(name)}".lower()
            fate, repo = self._repos.get(key, ("gone", None))
            if fate == "moved" and repo is not None:
                return _moved(f"http://{request.host}/repositories/{repo.rid}{stats or ''}")
            if fate == "blocked" and repo is not None:
                return _answer(451, _blocked_body(repo))
            if repo is not None:
                return self._repo_answer(day, repo, bool(stats))
        if request.method == "GET" and (match := _REPO_ID_PATH.fullmatch(request.path)):
            digits = match.group(1)
            repo = self._repos_by_id.get(int(digits)) if len(digits) <= _INT_DIGITS else None
            if repo is not None:
                return self._repo_answer(day, repo, bool(match.group(2)))
        return _answer(404, {"message": "Not Found", "documentation_url": _GITHUB_DOCS, "status": "404"})

    def _derived(self, view: _View, package: int | None) -> tuple[PackageState, Profile]:
        prof = None if package is None else self._profiles[package]
        assert package is not None and prof is not None, "documents derive from usable packages only"
        return view.states[package], prof

    def _repo_doc(self, view: _View, repo: _Repo) -> Record:
        if repo.doc is not None:
            return repo.doc
        return derive.repo_doc(*self._derived(view, repo.package), repo.full_name, repo.rid)

    def _repo_answer(self, day: date, repo: _Repo, stats: bool) -> Response:
        view = self._view(day)
        if not stats:
            return _answer(200, self._repo_doc(view, repo), conditional=True)
        # A repository shipped without a package has no weekly numbers: GitHub never computed them.
        weekly = None if repo.package is None else derive.participation(*self._derived(view, repo.package))
        if weekly is None:
            return Response(202, b"{}")
        if unit(repo.rid, "computing") < _COMPUTING:
            with self._lock:
                first = (repo.rid, day) not in self._computed
                self._computed.add((repo.rid, day))
            if first:
                return Response(202, b"{}")
        return _answer(200, weekly, conditional=True)

    def _graphql(self, request: Request, day: date, now: datetime) -> Response:
        try:
            payload = json.loads(request.body)
            query, variables = payload["query"], payload.get("variables") or {}
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _answer(400, {"message": "Problems parsing JSON", "documentation_url": _GITHUB_DOCS})
        aliases = _GRAPHQL_REPOSITORY.findall(query)
        if len(aliases) > GRAPHQL_MAX_REPOSITORIES:
            message = (
                f"This query requests {len(aliases)} repositories, which exceeds the maximum of "
                f"{GRAPHQL_MAX_REPOSITORIES} per query."
            )
            return _answer(200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]})
        data: Record = {}
        if re.search(r"\brateLimit\b", query):
            used, reset = self._use_rate("graphql", now, 0)
            data["rateLimit"] = {
                "cost": 1,
                "remaining": max(0, GITHUB_HOURLY_LIMIT - used - 1),
                "resetAt": github_time(datetime.fromtimestamp(reset, UTC)),
            }
        errors = []
        view = self._view(day)
        for alias, arguments in aliases:
            owner, name = (
                _graphql_argument(arguments, "owner", variables),
                _graphql_argument(arguments, "name", variables),
            )
            fate, repo = self._repos.get(f"{owner}/{name}".lower(), ("gone", None))
            if fate in ("ok", "moved") and repo is not None:
                data[alias] = derive.graphql_node(self._repo_doc(view, repo))
                continue
            data[alias] = None
            if fate == "blocked":
                errors.append({"type": "FORBIDDEN", "path": [alias], "message": "Repository access blocked"})
            else:
                message = f"Could not resolve to a Repository with the name '{owner}/{name}'."
                errors.append({"type": "NOT_FOUND", "path": [alias], "message": message})
        return _answer(200, {"data": data, "errors": errors} if errors else {"data": data})

    # -- PyPI ---------------------------------------------------------------------------------

    def _index_projects(self) -> dict[str, _Project]:
        projects: dict[str, _Project] = {}
        usable = [i for i, p in enumerate(self._profiles) if p is not None and p.version is not None]
        for i in sorted(usable, key=lambda i: self._packages[i]["id"]):
            name = pypi_project_name(self._packages[i].get("pypi_url"))
            if name is not None:
                projects.setdefault(normalize_name(name), _Project(name, i, None))
        for key, doc in self.bundle.pypi.items():
            info = doc.get("info")
            name = info.get("name") if isinstance(info, dict) else None
            projects[key] = _Project(name if isinstance(name, str) else key, None, doc)
        return projects

    def _pypi_doc(self, view: _View, project: _Project) -> Record:
        if project.doc is not None:
            return project.doc
        return derive.pypi_doc(*self._derived(view, project.package), project.name)

    def _pypi_serial(self, view: _View, project: _Project) -> object:
        if project.doc is not None:
            return project.doc.get("last_serial")
        return derive.last_serial(derive.release_history(*self._derived(view, project.package))[-1])

    def _pypi(self, request: Request, day: date) -> Response:
        if request.method != "GET":
            return _answer(405, {"message": "Method Not Allowed"})
        if request.path in ("/simple", "/simple/"):
            return self._simple_index(day)
        match = _PROJECT_PATH.fullmatch(request.path)
        name = unquote(match.group(1)) if match else ""
        project = self._projects.get(normalize_name(name))
        if project is None:
            return _answer(404, {"message": "Not Found"})
        if name != normalize_name(name):
            return _moved(f"http://{request.host}/pypi/{normalize_name(name)}/json")
        doc = self._pypi_doc(self._view(day), project)
        serial = doc.get("last_serial")
        # A header carries an integer: a shipped document's odd serial must not become a header line.
        headers = (("X-PyPI-Last-Serial", str(serial)),) if type(serial) is int else ()
        return _answer(200, doc, *headers, conditional=True)

    def _simple_index(self, day: date) -> Response:
        """PEP 691 project list with PyPI's `_last-serial`: how a warm run finds changed projects."""
        view = self._view(day)
        if view.simple_index is None:
            serials = {p.name: self._pypi_serial(view, p) for p in self._projects.values()}
            newest = max((s for s in serials.values() if type(s) is int), default=0)
            index = {
                "meta": {"api-version": "1.1", "_last-serial": newest},
                "projects": [{"name": n, "_last-serial": s} for n, s in sorted(serials.items())],
            }
            headers = (("X-PyPI-Last-Serial", str(newest)),)
            view.simple_index = Response(200, _json(index), headers, True, _SIMPLE_JSON)
        return view.simple_index

    # -- admin ----------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        try:
            payload = json.loads(request.body) if request.method == "POST" else None
            if path == "/_replay/clock":
                if request.method == "POST":
                    self.set_date(date.fromisoformat(payload["date"]))
                return _answer(200, {"date": self.date.isoformat(), "as_of": self.bundle.as_of.isoformat()})
            if path == "/_replay/faults":
                if request.method == "POST":
                    self._set_faults(payload)
                return _answer(200, {"faults": self.faults.remaining(), "rates": self.faults.rates()})
            if path == "/_replay/stats" and request.method == "GET":
                return _answer(200, self.stats())
        except (ValueError, KeyError, TypeError) as exc:
            return _answer(400, {"detail": str(exc)})
        return _answer(404, {"detail": "Not found."})

    def _set_faults(self, payload: object) -> None:
        """A list replaces the count rules; {"rates": SPEC, "seed": N} replaces the rate faults."""
        if isinstance(payload, list):
            self.faults.set(payload)
        elif isinstance(payload, dict) and "rates" in payload and set(payload) <= {"rates", "seed"}:
            self.faults.set_rates(payload["rates"], payload.get("seed"))
        else:
            raise ValueError('POST a JSON list of fault rules, or {"rates": "5xx=0.1,...", "seed": 7}')

    def stats(self) -> Record:
        return {
            "date": self.date.isoformat(),
            "as_of": self.bundle.as_of.isoformat(),
            "bundle": self.bundle.origin,
            "packages": len(self._packages),
            "requests": self.request_counts(),
            "faults": self.faults.remaining(),
            "rates": self.faults.rates(),
        }


def _source(path: str) -> str | None:
    if path == "/api/v4" or path.startswith("/api/v4/"):
        return "djangopackages"
    if path == "/graphql" or path.startswith(("/repos/", "/repositories/")):
        return "github"
    if path.startswith(("/pypi/", "/simple")):
        return "pypi"
    return None


def _participation(path: str) -> bool:
    # In both patterns the last group is the `/stats/participation` suffix.
    match = _REPO_PATH.fullmatch(path) or _REPO_ID_PATH.fullmatch(path)
    return bool(match and match.group(match.re.groups))


def _fault(rule: FaultRule) -> Response:
    assert rule.status is not None
    body = {} if rule.status == 202 else {"message": f"Injected fault: HTTP {rule.status}"}
    headers = () if rule.retry_after is None else (("Retry-After", str(math.ceil(rule.retry_after))),)
    return _answer(rule.status, body, *headers)


def _rate_fault(fault: RateFault) -> Response:
    if fault.kind == "html":
        return Response(200, _MAINTENANCE_PAGE, content_type=_HTML)
    if fault.kind == "stats202":
        return Response(202, b"{}")
    assert fault.status is not None, fault
    return _answer(fault.status, {"message": f"Injected fault: HTTP {fault.status}"})


def _etag_matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _int_param(params: dict[str, list[str]], name: str, default: int, *, minimum: int) -> int:
    values = params.get(name)
    if not values:
        return default
    raw = values[-1].strip()
    if not _is_digits(raw) or int(raw) < minimum:
        kind = "positive" if minimum else "non-negative"
        raise ValueError(f"Invalid {name}: {values[-1]!r} is not a {kind} integer.")
    return int(raw)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _stars(record: Record) -> int:
    stars = record.get("repo_watchers")
    return stars if type(stars) is int else 0


def _graphql_argument(arguments: str, name: str, variables: Mapping[str, Any]) -> str:
    match = re.search(rf"\b{name}\s*:\s*(?:\$(\w+)|\"([^\"]*)\")", arguments)
    if match is None:
        return ""
    return str(variables.get(match.group(1), "")) if match.group(1) else match.group(2)


def _blocked_body(repo: _Repo) -> Record:
    return {
        "message": "Repository access blocked",
        "block": {
            "reason": "dmca",
            "created_at": "2024-01-15T00:00:00Z",
            "html_url": f"https://github.com/{repo.full_name}",
        },
    }
