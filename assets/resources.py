"""Thin Dagster resources that hand the plain clients and the warehouse to the assets."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from assets.sources.djangopackages import DjangoPackagesClient
from assets.sources.forges import BITBUCKET_ANONYMOUS_HOURLY, BitbucketClient, GitLabClient
from assets.sources.github import GitHubClient
from assets.sources.http import DEFAULT_MAX_BODY_BYTES, HttpClient, RequestLog
from assets.sources.pypi import PyPIClient
from warehouse import staging
from warehouse.guards import Thresholds


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file, and the staging files the run holds open until it ends
    (``warehouse.staging.hold``: with the in-process executor, from a run's first step to its last)."""

    path: str
    _held: set[Path] = PrivateAttr(default_factory=set)

    def hold(self, staged: Path) -> None:
        staging.hold(staged)
        self._held.add(staged)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        # A file the run published is gone already (staging.discard); any other is kept, written out whole.
        while self._held:
            staging.release(self._held.pop())


class DjangoPackagesResource(dg.ConfigurableResource):
    """The djangopackages.org REST API v4 (or the replay server)."""

    base_url: str
    page_size: int = 1000
    timeout: float = 60.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def client(self, log: RequestLog) -> DjangoPackagesClient:
        http = HttpClient(
            self.base_url,
            source="djangopackages",
            log=log,
            timeout=self.timeout,
            max_body_bytes=self.max_body_bytes,
        )
        return DjangoPackagesClient(http, page_size=self.page_size)


class GitHubResource(dg.ConfigurableResource):
    """The GitHub REST and GraphQL APIs (or the replay server)."""

    base_url: str
    token: str | None = None
    participation_wait: float = 2.0
    timeout: float = 30.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def client(self, log: RequestLog) -> GitHubClient:
        headers = {"Accept": "application/vnd.github+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        http = HttpClient(
            self.base_url,
            source="github",
            log=log,
            headers=headers,
            timeout=self.timeout,
            max_body_bytes=self.max_body_bytes,
        )
        return GitHubClient(http, participation_wait=self.participation_wait)


class PyPIResource(dg.ConfigurableResource):
    """The PyPI JSON API; unset means PyPI enrichment is skipped (its address is the user's setting)."""

    base_url: str | None = None
    concurrency: int = 10
    timeout: float = 30.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def client(self, log: RequestLog) -> PyPIClient | None:
        if not self.base_url:
            return None
        return PyPIClient(
            HttpClient(
                self.base_url,
                source="pypi",
                log=log,
                timeout=self.timeout,
                max_body_bytes=self.max_body_bytes,
            ),
            concurrency=self.concurrency,
        )


class GitLabResource(dg.ConfigurableResource):
    """GitLab's REST API v4 (or the replay server); a token is optional."""

    base_url: str
    token: str | None = None
    timeout: float = 30.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def client(self, log: RequestLog) -> GitLabClient:
        return GitLabClient(
            _forge_http(self.base_url, "gitlab", self.token, log, self.timeout, self.max_body_bytes)
        )


class BitbucketResource(dg.ConfigurableResource):
    """Bitbucket Cloud's REST API 2.0 (or the replay server); without a token, 60 requests an hour."""

    base_url: str
    token: str | None = None
    timeout: float = 30.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def client(self, log: RequestLog) -> BitbucketClient:
        http = _forge_http(self.base_url, "bitbucket", self.token, log, self.timeout, self.max_body_bytes)
        return BitbucketClient(http, budget=None if self.token else BITBUCKET_ANONYMOUS_HOURLY)


def _forge_http(
    base_url: str, source: str, token: str | None, log: RequestLog, timeout: float, max_body_bytes: int
) -> HttpClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return HttpClient(
        base_url, source=source, log=log, headers=headers, timeout=timeout, max_body_bytes=max_body_bytes
    )


class GuardsResource(dg.ConfigurableResource):
    """The thresholds of the dataset guards that stop a bad day from being published (shares, 0 to 1)."""

    vanish_warn: float = Thresholds.vanish_warn
    vanish_fail: float = Thresholds.vanish_fail
    count_warn: float = Thresholds.count_warn
    count_fail: float = Thresholds.count_fail
    reject_warn: float = Thresholds.reject_warn
    reject_fail: float = Thresholds.reject_fail

    def thresholds(self) -> Thresholds:
        return Thresholds(**{name: getattr(self, name) for name in Thresholds.__dataclass_fields__})
