"""GitLab projects and Bitbucket Cloud repositories, derived from the packages that link to them.

Each answers from the package's state on the clock date: the last activity is its last commit (else its
creation), stars and forks are djangopackages' counts. A deterministic share of Bitbucket repositories answer
404, as the Mercurial repositories Bitbucket removed in 2020 do, and a share of GitLab projects are archived.
Bitbucket allows an anonymous caller 60 requests an hour and answers 429 past them; its window here is the
clock hour (Bitbucket's rolls), and it reports what is left in X-RateLimit-Limit/-Remaining, which Bitbucket
sends only to access tokens: the client works from the known limit when they are absent.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime
from urllib.parse import unquote

from replay import derive
from replay.catalogue import Catalogue
from replay.protocol import Record, Request, Response, answer
from replay.stable import unit
from replay.times import parse_time
from warehouse.identifiers import forge_repository

BITBUCKET_ANONYMOUS_HOURLY = 60
BITBUCKET_HOURLY = 1000
_REMOVED_MERCURIAL = 0.25  # share of Bitbucket repositories answering 404
_ARCHIVED = 0.05
_GITLAB_PATH = re.compile(r"/api/v4/projects/([^/]+)/?")
_BITBUCKET_PATH = re.compile(r"/2\.0/repositories/([^/]+)/([^/]+)/?")


def owns_gitlab(path: str) -> bool:
    return path.startswith("/api/v4/projects")


def owns_bitbucket(path: str) -> bool:
    return path.startswith("/2.0/")


def _linked(catalogue: Catalogue, host: str) -> dict[str, int]:
    """Lower-cased path -> the oldest package linking to it."""
    found: dict[str, int] = {}
    for i in catalogue.usable():
        repo = forge_repository(catalogue.packages[i].get("repo_url"))
        if repo is not None and repo[0] == host:
            found.setdefault(repo[1], i)
    return found


def _activity(catalogue: Catalogue, day: date, package: int) -> datetime:
    state, _ = catalogue.derived(day, package)
    record = state.record
    moment = parse_time(record.get("last_updated")) or parse_time(record.get("created"))
    return moment or datetime.combine(day, datetime.min.time(), UTC)


def _not_found(message: str) -> Response:
    return answer(404, {"type": "error", "error": {"message": message}})


class GitLabAPI:
    source = "gitlab"

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._projects = _linked(catalogue, "gitlab")

    def route(self, request: Request, day: date, now: datetime) -> Response:
        match = _GITLAB_PATH.fullmatch(request.path) if request.method == "GET" else None
        path = unquote(match.group(1)).lower() if match else None
        package = self._projects.get(path) if path else None
        if path is None or package is None:
            return answer(404, {"message": "404 Project Not Found"})
        record = self.catalogue.derived(day, package)[0].record
        return answer(
            200,
            {
                "id": derive.repo_id(f"gitlab:{path}"),
                "path_with_namespace": path,
                "web_url": f"https://gitlab.com/{path}",
                "last_activity_at": _activity(self.catalogue, day, package).isoformat(
                    timespec="milliseconds"
                ),
                "star_count": record.get("repo_watchers"),
                "forks_count": record.get("repo_forks"),
                "archived": unit(path, "archived") < _ARCHIVED,
            },
            conditional=True,
        )


class BitbucketAPI:
    source = "bitbucket"

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._repos = _linked(catalogue, "bitbucket")
        self._lock = threading.Lock()
        self._used: dict[bool, tuple[int, int]] = {}  # token? -> (hour, requests)

    def reset(self) -> None:
        with self._lock:
            self._used.clear()

    def route(self, request: Request, day: date, now: datetime) -> Response:
        token = "authorization" in request.headers
        limit = BITBUCKET_HOURLY if token else BITBUCKET_ANONYMOUS_HOURLY
        hour = int(now.timestamp()) // 3600
        with self._lock:
            window, used = self._used.get(token, (hour, 0))
            used = used if window == hour else 0
            refused = used >= limit
            self._used[token] = (hour, used if refused else used + 1)
        remaining = max(0, limit - used - (0 if refused else 1))
        quota = (("X-RateLimit-Limit", str(limit)), ("X-RateLimit-Remaining", str(remaining)))
        if refused:
            wait = (hour + 1) * 3600 - int(now.timestamp())
            body = {"type": "error", "error": {"message": "Rate limit for this resource has been exceeded"}}
            return answer(429, body, *quota, ("Retry-After", str(wait)))
        response = self._answer(request, day)
        return Response(response.status, response.body, quota, response.conditional)

    def _answer(self, request: Request, day: date) -> Response:
        match = _BITBUCKET_PATH.fullmatch(request.path) if request.method == "GET" else None
        if match is None:
            return _not_found("Resource not found")
        path = f"{unquote(match.group(1))}/{unquote(match.group(2))}".lower()
        package = self._repos.get(path)
        if package is None or unit(path, "mercurial") < _REMOVED_MERCURIAL:
            return _not_found(f"Repository {path} not found")
        record: Record = self.catalogue.derived(day, package)[0].record
        return answer(
            200,
            {
                "type": "repository",
                "full_name": path,
                "scm": "git",
                "is_private": False,
                "updated_on": _activity(self.catalogue, day, package).isoformat(timespec="microseconds"),
                "created_on": record.get("created"),
                "links": {"html": {"href": f"https://bitbucket.org/{path}"}},
            },
            conditional=True,
        )
