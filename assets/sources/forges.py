"""GitLab and Bitbucket Cloud: the state of a repository by path, from their public REST APIs.

GitLab: ``GET /api/v4/projects/:url-encoded-path`` (last_activity_at, star_count, forks_count, archived).
Bitbucket Cloud: ``GET /2.0/repositories/{workspace}/{repo_slug}`` (updated_on); a 404 there is most often a
Mercurial repository Bitbucket removed in 2020. Requests go one at a time: both services count requests per
caller, and their repositories number in the hundreds, not the thousands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from assets.sources.http import HttpClient, Response, SourceError

# Bitbucket allows an anonymous caller 60 requests an hour across its whole API.
BITBUCKET_ANONYMOUS_HOURLY = 60


@dataclass(frozen=True)
class ForgeRepo:
    status: Literal["ok", "missing", "failed"]
    doc: dict[str, Any] | None  # the document as received; None unless "ok"
    error: str | None = None  # why "failed": the source error, scrubbed


class ForgeClient:
    """One document per repository path, within a request budget when one is given."""

    def __init__(self, http: HttpClient, budget: int | None = None) -> None:
        if budget is not None and budget < 0:
            raise ValueError("budget must be a number of requests, at least 0")
        self.http = http
        # Requests this client may still make; None: as many as asked. Lowered to what the service's
        # rate-limit headers report left, when it reports that.
        self.budget = budget

    def _path(self, path: str) -> str:
        raise NotImplementedError

    def document(self, path: str) -> dict[str, Any] | None:
        """The repository's document, or None when the service does not know it (404)."""
        response = self._get(self._path(path))
        return None if response.status == 404 else response.json()

    def states(self, paths: Sequence[str]) -> dict[str, ForgeRepo]:
        """States of ``paths`` in the order given, until the budget is spent: the paths left out were not
        asked (the caller carries them to a later day). A path that fails after the HTTP retries is
        "failed" for that repository alone; one refused for the rate limit (429, still refused after a wait
        the service asked for, or asked to wait longer than a run waits) is left out with every path
        after it: the hour was spent before this run (an earlier run, another caller at the address)."""
        result: dict[str, ForgeRepo] = {}
        for path in dict.fromkeys(paths):
            if self.budget is not None and self.budget <= 0:
                break
            try:
                doc = self.document(path)
            except SourceError as error:
                if error.status == 429:
                    self.budget = 0
                    break
                result[path] = ForgeRepo("failed", None, str(error))
                continue
            result[path] = ForgeRepo("missing", None) if doc is None else ForgeRepo("ok", doc)
        return result

    def _get(self, path: str) -> Response:
        try:
            response = self.http.get(path, shape=_is_object)
        except SourceError:
            self._spend(None)
            raise
        self._spend(response)
        return response

    def _spend(self, response: Response | None) -> None:
        if self.budget is None:
            return
        self.budget -= 1
        told = response.headers.get("x-ratelimit-remaining") if response is not None else None
        if told is not None and told.isdigit():
            self.budget = min(self.budget, int(told))


class GitLabClient(ForgeClient):
    def _path(self, path: str) -> str:
        return f"/api/v4/projects/{quote(path, safe='')}"


class BitbucketClient(ForgeClient):
    def _path(self, path: str) -> str:
        workspace, _, slug = path.partition("/")
        return f"/2.0/repositories/{quote(workspace, safe='')}/{quote(slug, safe='')}"


def _is_object(body: Any) -> bool:
    return isinstance(body, dict)
