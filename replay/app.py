"""The replay server's dispatcher: one service per replayed API, the clock, faults, latency and counters.

`ReplayApp.dispatch` maps a parsed request to what the HTTP layer must do. Each service (`replay.djangopackages`,
`replay.github`, `replay.pypi`, `replay.forges`) answers its own paths from the shared `Catalogue`; this module adds what every
answer has (Date, ETag and 304, a service's quota headers) and what a bad day adds (faults, latency).
Everything is thread-safe.
"""

from __future__ import annotations

import hashlib
import math
import sys
import threading
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Protocol

from replay import SOURCES, admin, djangopackages, forges, github, pypi
from replay.bundle import Bundle
from replay.catalogue import Catalogue
from replay.faults import FaultRule, Faults, RateFault
from replay.protocol import HTML, Record, Request, Response, answer

__all__ = ["Outcome", "ReplayApp", "Request", "Response"]

# What a CDN or a proxy answers when the service behind it is down: 200, and a page for people.
_MAINTENANCE_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>\n"
    b"<body><h1>We&rsquo;ll be back soon</h1><p>The service is down for scheduled maintenance.</p>"
    b"</body></html>\n"
)


class Service(Protocol):
    source: str

    def route(self, request: Request, day: date, now: datetime) -> Response: ...


@dataclass(frozen=True)
class Outcome:
    """What the HTTP layer does: wait, then answer (maybe cut short) or hang up (response None)."""

    response: Response | None
    delay: float = 0.0
    truncate: bool = False


class ReplayApp:
    def __init__(self, bundle: Bundle, day: date | None = None, *, latency: float = 0.0) -> None:
        self.bundle = bundle
        self.faults = Faults()
        self._lock = threading.Lock()
        self._date = day or bundle.as_of
        self._latency = latency
        self._counts: Counter[str] = Counter()
        self._paths: Counter[str] = Counter()
        self._not_modified: Counter[str] = Counter()
        self.catalogue = Catalogue(bundle)
        self.github = github.GitHubAPI(self.catalogue)
        self.bitbucket = forges.BitbucketAPI(self.catalogue)
        self._services: dict[str, Service] = {
            "djangopackages": djangopackages.DjangoPackagesAPI(self.catalogue),
            "github": self.github,
            "pypi": pypi.PyPIAPI(self.catalogue),
            "gitlab": forges.GitLabAPI(self.catalogue),
            "bitbucket": self.bitbucket,
        }

    # -- clock, latency and counters ------------------------------------------------------------

    @property
    def date(self) -> date:
        with self._lock:
            return self._date

    def set_date(self, day: date) -> None:
        with self._lock:
            self._date = day

    @property
    def latency(self) -> float:
        """Seconds added before every answer of a replayed API: a distant service, on loopback."""
        with self._lock:
            return self._latency

    def set_latency(self, ms: float) -> None:
        if not 0 <= ms <= 60_000:
            raise ValueError("latency is a number of milliseconds from 0 to 60000")
        with self._lock:
            self._latency = ms / 1000

    def request_counts(self) -> dict[str, int]:
        with self._lock:
            return {s: self._counts[s] for s in SOURCES}

    def path_counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"paths": dict(self._paths), "not_modified": dict(self._not_modified)}

    def reset_counts(self) -> None:
        """Also restarts the services' hourly quotas: a benchmark run starts from a full window."""
        with self._lock:
            self._counts.clear()
            self._paths.clear()
            self._not_modified.clear()
        self.github.reset()
        self.bitbucket.reset()

    # -- dispatch -----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Outcome:
        day = self.date
        now = datetime.combine(day, datetime.now(UTC).time(), UTC)
        if request.path.startswith("/_replay/"):
            return Outcome(self._finish(None, request, admin.route(self, request), now))
        source = _source(request.path)
        if source:
            with self._lock:
                self._counts[source] += 1
                self._paths[request.path] += 1
        latency = self.latency if source else 0.0
        target = f"{request.path}?{request.query}" if request.query else request.path
        rule = self.faults.take(target)
        participation = source == "github" and github.is_participation(request.path)
        drawn = None if rule else self.faults.draw(source, participation=participation)
        if rule is not None and rule.drop:
            return Outcome(None, latency + rule.delay)
        if drawn is not None and drawn.kind == "timeout":
            return Outcome(None, drawn.hold)
        try:
            if rule is not None and rule.html:
                response = Response(200, _MAINTENANCE_PAGE, content_type=HTML)
            elif rule is not None and rule.status is not None:
                response = _fault(rule)
            elif drawn is not None and drawn.kind != "truncate":
                response = _rate_fault(drawn)
            else:
                response = self._route(source, request, day, now)
        except Exception:
            # A bug must surface as a 500 the client can record, never as a dead connection.
            traceback.print_exc(file=sys.stderr)
            response = answer(500, {"detail": "Replay server error."})
        finished = self._finish(source, request, response, now)
        if finished.status == 304:
            with self._lock:
                self._not_modified[request.path] += 1
        truncate = bool(rule and rule.truncate) or (drawn is not None and drawn.kind == "truncate")
        return Outcome(finished, latency + (rule.delay if rule else 0.0), truncate)

    def _route(self, source: str | None, request: Request, day: date, now: datetime) -> Response:
        service = self._services.get(source or "")
        if service is None:
            return answer(404, {"detail": "Not found."})
        return service.route(request, day, now)

    def _finish(self, source: str | None, request: Request, response: Response, now: datetime) -> Response:
        status, body = response.status, response.body
        headers = [("Date", format_datetime(now, usegmt=True)), ("Content-Type", response.content_type)]
        if response.conditional and status == 200:
            etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
            headers.append(("ETag", etag))
            if _etag_matches(request.headers.get("if-none-match"), etag):
                status, body = 304, b""
        if source == "github":
            headers += self.github.quota_headers(request, status, now)
        headers.append(("Content-Length", str(len(body))))
        return Response(status, body, tuple(headers) + response.headers)

    def stats(self) -> Record:
        return {
            "date": self.date.isoformat(),
            "as_of": self.bundle.as_of.isoformat(),
            "bundle": self.bundle.origin,
            "packages": len(self.catalogue.packages),
            "requests": self.request_counts(),
            "latency_ms": self.latency * 1000,
            "faults": self.faults.remaining(),
            "rates": self.faults.rates(),
        }


def _source(path: str) -> str | None:
    if djangopackages.owns(path):
        return "djangopackages"
    if github.owns(path):
        return "github"
    if pypi.owns(path):
        return "pypi"
    if forges.owns_gitlab(path):
        return "gitlab"
    if forges.owns_bitbucket(path):
        return "bitbucket"
    return None


def _fault(rule: FaultRule) -> Response:
    assert rule.status is not None
    body = {} if rule.status == 202 else {"message": f"Injected fault: HTTP {rule.status}"}
    headers = () if rule.retry_after is None else (("Retry-After", str(math.ceil(rule.retry_after))),)
    return answer(rule.status, body, *headers)


def _rate_fault(fault: RateFault) -> Response:
    if fault.kind == "html":
        return Response(200, _MAINTENANCE_PAGE, content_type=HTML)
    if fault.kind == "stats202":
        return Response(202, b"{}")
    assert fault.status is not None, fault
    return answer(fault.status, {"message": f"Injected fault: HTTP {fault.status}"})


def _etag_matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags
