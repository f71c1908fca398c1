"""GitHub: REST repositories and `stats/participation`, GraphQL repository batches, and the hourly quotas.

Without a token GitHub allows 60 REST requests an hour and no GraphQL at all; with one, 5,000 of each. A 304
answer to a conditional request costs nothing.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

from replay import derive
from replay.catalogue import Catalogue
from replay.protocol import INT_DIGITS, Record, Request, Response, answer, moved
from replay.stable import unit
from replay.times import github_time
from warehouse.identifiers import github_repository

HOURLY_LIMIT = 5000
ANONYMOUS_HOURLY_LIMIT = 60
GRAPHQL_MAX_REPOSITORIES = 100
_DOCS = "https://docs.github.com/rest"
_REPO_PATH = re.compile(r"/repos/([^/]+)/([^/]+?)(/stats/participation)?/?")
_REPO_ID_PATH = re.compile(r"/repositories/(\d+)(/stats/participation)?/?")
_GRAPHQL_REPOSITORY = re.compile(r"(\w+)\s*:\s*repository\s*\(([^)]*)\)")
# Deterministic shares of repositories with a history of their own.
_GONE, _BLOCKED, _MOVED = 0.01, 0.015, 0.035  # cumulative: 1% deleted, 0.5% blocked, 2% renamed
_COMPUTING = 0.05  # answer 202 to the first participation request of each day


def owns(path: str) -> bool:
    return path in ("/graphql", "/rate_limit") or path.startswith(("/repos/", "/repositories/"))


def is_participation(path: str) -> bool:
    # In both patterns the last group is the `/stats/participation` suffix.
    match = _REPO_PATH.fullmatch(path) or _REPO_ID_PATH.fullmatch(path)
    return bool(match and match.group(match.re.groups))


class _Repo:
    __slots__ = ("doc", "full_name", "package", "rid")

    def __init__(self, full_name: str, rid: int, package: int | None, doc: Record | None) -> None:
        self.full_name = full_name  # the name it answers under now
        self.rid = rid
        self.package = package  # position of the package it derives from
        self.doc = doc  # shipped in the bundle: served as is


class GitHubAPI:
    source = "github"

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._lock = threading.Lock()
        self._rate: dict[tuple[str, bool], tuple[int, int]] = {}  # (resource, token) -> (reset epoch, used)
        self._computed: set[tuple[int, date]] = set()
        self._repos, self._by_id = self._index()

    def reset(self) -> None:
        """A fresh hourly window for every quota."""
        with self._lock:
            self._rate.clear()

    def _index(self) -> tuple[dict[str, tuple[str, _Repo | None]], dict[int, _Repo]]:
        """Names (lower-case) -> (fate, repository); the oldest package owns a shared repository."""
        names: dict[str, tuple[str, _Repo | None]] = {}
        by_id: dict[int, _Repo] = {}
        for i in self.catalogue.usable():
            full_name = github_repository(self.catalogue.packages[i].get("repo_url"))
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
        for key, doc in self.catalogue.bundle.github.items():
            known = names.get(key, ("gone", None))[1]
            rid = doc.get("id") if type(doc.get("id")) is int else derive.repo_id(key)
            repo = _Repo(str(doc["full_name"]), rid, known.package if known else None, doc)
            names[key] = ("ok", repo)
            by_id[rid] = repo
        return names, by_id

    # -- quota ----------------------------------------------------------------------------------

    def quota_headers(self, request: Request, status: int, now: datetime) -> tuple[tuple[str, str], ...]:
        resource = "graphql" if request.path == "/graphql" else "core"
        token = "authorization" in request.headers
        # A 304 answer to a conditional request does not count against the primary limit, nor does asking
        # for the quota itself.
        free = status == 304 or request.path == "/rate_limit"
        used, reset = self._use(resource, token, now, 0 if free else 1)
        limit = _limit(token)
        return (
            ("x-ratelimit-limit", str(limit)),
            ("x-ratelimit-remaining", str(max(0, limit - used))),
            ("x-ratelimit-used", str(used)),
            ("x-ratelimit-reset", str(reset)),
            ("x-ratelimit-resource", resource),
        )

    def _use(self, resource: str, token: bool, now: datetime, cost: int) -> tuple[int, int]:
        reset = (int(now.timestamp()) // 3600 + 1) * 3600
        with self._lock:
            window, used = self._rate.get((resource, token), (reset, 0))
            used = (used if window == reset else 0) + cost
            self._rate[(resource, token)] = (reset, used)
        return used, reset

    # -- routes ---------------------------------------------------------------------------------

    def route(self, request: Request, day: date, now: datetime) -> Response:
        if request.path == "/graphql" and request.method == "POST":
            return self._graphql(request, day, now)
        if request.path == "/rate_limit" and request.method == "GET":
            return self._rate_limit(request, now)
        if request.method == "GET" and (match := _REPO_PATH.fullmatch(request.path)):
            owner, name, stats = match.groups()
            key = f"{unquote(owner)}/{unquote(name)}".lower()
            fate, repo = self._repos.get(key, ("gone", None))
            if fate == "moved" and repo is not None:
                return moved(f"http://{request.host}/repositories/{repo.rid}{stats or ''}")
            if fate == "blocked" and repo is not None:
                return answer(451, _blocked_body(repo))
            if repo is not None:
                return self._repo_answer(day, repo, bool(stats))
        if request.method == "GET" and (match := _REPO_ID_PATH.fullmatch(request.path)):
            digits = match.group(1)
            repo = self._by_id.get(int(digits)) if len(digits) <= INT_DIGITS else None
            if repo is not None:
                return self._repo_answer(day, repo, bool(match.group(2)))
        return answer(404, {"message": "Not Found", "documentation_url": _DOCS, "status": "404"})

    def _rate_limit(self, request: Request, now: datetime) -> Response:
        token = "authorization" in request.headers
        resources = {}
        for resource in ("core", "graphql"):
            used, reset = self._use(resource, token, now, 0)
            limit = _limit(token) if resource == "core" or token else 0
            resources[resource] = {
                "limit": limit,
                "used": used,
                "remaining": max(0, limit - used),
                "reset": reset,
            }
        return answer(200, {"resources": resources, "rate": resources["core"]})

    def _repo_doc(self, day: date, repo: _Repo) -> Record:
        if repo.doc is not None:
            return repo.doc
        return derive.repo_doc(*self.catalogue.derived(day, repo.package), repo.full_name, repo.rid)

    def _repo_answer(self, day: date, repo: _Repo, stats: bool) -> Response:
        if not stats:
            return answer(200, self._repo_doc(day, repo), conditional=True)
        # A repository shipped without a package has no weekly numbers: GitHub never computed them.
        weekly = (
            None if repo.package is None else derive.participation(*self.catalogue.derived(day, repo.package))
        )
        if weekly is None:
            return Response(202, b"{}")
        if unit(repo.rid, "computing") < _COMPUTING:
            with self._lock:
                first = (repo.rid, day) not in self._computed
                self._computed.add((repo.rid, day))
            if first:
                return Response(202, b"{}")
        return answer(200, weekly, conditional=True)

    def _graphql(self, request: Request, day: date, now: datetime) -> Response:
        if "authorization" not in request.headers:
            return answer(
                401,
                {"message": "This endpoint requires you to be authenticated.", "documentation_url": _DOCS},
            )
        try:
            payload = json.loads(request.body)
            query, variables = payload["query"], payload.get("variables") or {}
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return answer(400, {"message": "Problems parsing JSON", "documentation_url": _DOCS})
        aliases = _GRAPHQL_REPOSITORY.findall(query)
        if len(aliases) > GRAPHQL_MAX_REPOSITORIES:
            message = (
                f"This query requests {len(aliases)} repositories, which exceeds the maximum of "
                f"{GRAPHQL_MAX_REPOSITORIES} per query."
            )
            return answer(200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": message}]})
        data: Record = {}
        if re.search(r"\brateLimit\b", query):
            used, reset = self._use("graphql", True, now, 0)
            data["rateLimit"] = {
                "cost": 1,
                "remaining": max(0, HOURLY_LIMIT - used - 1),
                "resetAt": github_time(datetime.fromtimestamp(reset, UTC)),
            }
        errors = []
        for alias, arguments in aliases:
            owner, name = (
                _graphql_argument(arguments, "owner", variables),
                _graphql_argument(arguments, "name", variables),
            )
            fate, repo = self._repos.get(f"{owner}/{name}".lower(), ("gone", None))
            if fate in ("ok", "moved") and repo is not None:
                data[alias] = derive.graphql_node(self._repo_doc(day, repo))
                continue
            data[alias] = None
            if fate == "blocked":
                errors.append({"type": "FORBIDDEN", "path": [alias], "message": "Repository access blocked"})
            else:
                message = f"Could not resolve to a Repository with the name '{owner}/{name}'."
                errors.append({"type": "NOT_FOUND", "path": [alias], "message": message})
        return answer(200, {"data": data, "errors": errors} if errors else {"data": data})


def _limit(token: bool) -> int:
    return HOURLY_LIMIT if token else ANONYMOUS_HOURLY_LIMIT


def _graphql_argument(arguments: str, name: str, variables: dict[str, Any]) -> str:
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
