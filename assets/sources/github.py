"""GitHub: repository state by GraphQL in batches of 100, weekly commits from REST participation.

The caller puts the token in the HttpClient's headers (``Authorization: Bearer ...``); this module never
sees it, and the HttpClient scrubs it from everything it records or raises.

One repository never costs the others: a repository that still fails after the retries is "failed" (with
the error), and everything else goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assets.sources.http import HttpClient, Response, SourceError, bounded_map

MAX_BATCH = 100  # GitHub's node limit for repository aliases in one query

_REPO_FRAGMENT = """fragment Repo on Repository { databaseId nameWithOwner stargazerCount forkCount
  watchers { totalCount } issues(states: OPEN) { totalCount } pullRequests(states: OPEN) { totalCount }
  pushedAt createdAt isArchived isDisabled licenseInfo { spdxId } defaultBranchRef { name }
  repositoryTopics(first: 20) { nodes { topic { name } } } }"""


@dataclass(frozen=True)
class RepoResult:
    status: Literal["ok", "missing", "blocked", "failed"]
    # The repository as received; for "blocked", GitHub's explanation (the REST 451 body or the
    # GraphQL error); for "missing" and "failed", None.
    doc: dict[str, Any] | None
    error: str | None = None  # why "failed": the source error, scrubbed


@dataclass(frozen=True)
class Participation:
    # "unchanged": GitHub answered 304 to the ETag sent; the caller holds the array that ETag belongs to.
    status: Literal["ok", "unchanged", "pending", "missing", "blocked", "failed"]
    # 52 weekly commit counts, oldest first; None unless status is "ok". "pending" (GitHub still
    # computing) is never reported as zeros: zero would read as an abandoned repository.
    all: tuple[int, ...] | None
    owner: tuple[int, ...] | None
    error: str | None = None  # why "failed": the source error, scrubbed
    etag: str | None = None  # of an "ok" answer: send it next time, so an unchanged answer is a free 304


class GitHubClient:
    def __init__(
        self,
        http: HttpClient,
        batch_size: int = MAX_BATCH,
        participation_attempts: int = 2,
        participation_wait: float = 2.0,
        concurrency: int = 1,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        if participation_attempts < 1:
            raise ValueError("participation_attempts must be at least 1")
        self.http = http
        self.batch_size = batch_size
        self.participation_attempts = participation_attempts
        self.participation_wait = participation_wait
        # GitHub asks integrators to make the requests of one token serially (its secondary rate limits).
        self.concurrency = concurrency

    def repositories(self, full_names: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Repository nodes by requested ``owner/name``; None when missing or blocked."""
        return {n: r.doc if r.status == "ok" else None for n, r in self.repository_states(full_names).items()}

    def repository_states(self, full_names: Sequence[str]) -> dict[str, RepoResult]:
        """Repository state by requested ``owner/name``, by GraphQL in batches of ``batch_size``.

        "ok" carries the node as received, "missing" is GitHub's NOT_FOUND, "blocked" a FORBIDDEN
        error on that repository alone (doc: the error), "failed" any other error on that repository
        alone. A batch that fails as a whole (an error status after the retries, a body that is not a
        GraphQL answer, errors that name no single repository) is asked again in halves, down to single
        repositories, so a repository that breaks a query is found and fails alone.
        """
        unique = _unique(full_names)
        result: dict[str, RepoResult] = {}
        for start in range(0, len(unique), self.batch_size):
            batch = unique[start : start + self.batch_size]
            try:
                result.update(self._batch(batch))
            except SourceError as error:
                result.update(self._split(batch, error))
        return {n: result[n] for n in unique}

    def repository(self, owner: str, name: str) -> RepoResult:
        """REST state of one repository; a rename or transfer (301) is followed once."""
        response = self._get_repo(f"/repos/{owner}/{name}", ok_statuses=(451,), shape=_is_object)
        if response.status == 404:
            return RepoResult("missing", None)
        if response.status == 451:
            return RepoResult("blocked", _json_or_none(response))
        return RepoResult("ok", response.json())

    def participation(
        self, full_names: Sequence[str], etags: Mapping[str, str] | None = None
    ) -> dict[str, Participation]:
        """Weekly commit counts per repository; a repository with an ETag in ``etags`` is asked with
        If-None-Match, and GitHub's 304 (free of quota) is "unchanged".

        GitHub answers 202 while it computes the statistics: one pass over all repositories, then only
        the 202s are asked again, after waits that double from ``participation_wait``, for at most
        ``participation_attempts`` rounds in all (by default one more: GitHub mostly has the numbers
        seconds after the first ask); what is still computing is "pending", which the caller remembers and
        asks again on a later day rather than waiting on it. A repository whose request fails after the
        HTTP retries is "failed" and not asked again.
        """
        waiting = _unique(full_names)
        result: dict[str, Participation] = {}
        for round_ in range(self.participation_attempts):
            if round_:
                self.http.sleep(self.participation_wait * 2 ** (round_ - 1))
            answers = bounded_map(
                lambda name: self._participation_once(name, (etags or {}).get(name)),
                waiting,
                self.concurrency,
            )
            result.update((n, p) for n, p in zip(waiting, answers, strict=True) if p is not None)
            waiting = [n for n, p in zip(waiting, answers, strict=True) if p is None]
            if not waiting:
                break
        result.update((n, Participation("pending", None, None)) for n in waiting)
        return {n: result[n] for n in _unique(full_names)}

    def _participation_once(self, full_name: str, etag: str | None) -> Participation | None:
        """The repository's participation, or None while GitHub is still computing it (202)."""
        try:
            response = self._get_repo(
                f"/repos/{full_name}/stats/participation",
                ok_statuses=(202, 451),
                shape=_is_participation,
                etag=etag,
            )
        except SourceError as error:
            return Participation("failed", None, None, str(error))
        if response.status == 202:
            return None
        if response.status == 304:
            return Participation("unchanged", None, None, etag=etag)
        if response.status == 404:
            return Participation("missing", None, None)
        if response.status == 451:
            return Participation("blocked", None, None)
        body = response.json()
        weeks_owner = body.get("owner")
        return Participation(
            "ok",
            tuple(body["all"]),
            tuple(weeks_owner) if isinstance(weeks_owner, list) else None,
            etag=response.headers.get("etag"),
        )

    def _get_repo(
        self, path: str, ok_statuses: tuple[int, ...], shape: Callable[[Any], bool], etag: str | None = None
    ) -> Response:
        # A renamed or transferred repository answers 301 to its old name, for its data and its
        # statistics alike; following once is enough (GitHub points at the id, which is stable).
        response = self.http.get(path, ok_statuses=(301, *ok_statuses), shape=shape, etag=etag)
        if response.status == 301:
            target = _moved_to(self.http.source, response)
            response = self.http.get(target, ok_statuses=ok_statuses, shape=shape, etag=etag)
        return response

    def _split(self, names: list[str], error: SourceError) -> dict[str, RepoResult]:
        """States of a batch whose query failed with ``error``: its halves are asked, down to one name.

        When both halves fail too, the cause is not one repository (GitHub is down or refuses us), and
        smaller queries would only multiply failing requests: the batch is failed as it stands.
        """
        if len(names) == 1:
            return {names[0]: RepoResult("failed", None, str(error))}
        middle = (len(names) + 1) // 2
        halves = [names[:middle], names[middle:]]
        answers: list[dict[str, RepoResult] | SourceError] = []
        for half in halves:
            try:
                answers.append(self._batch(half))
            except SourceError as half_error:
                answers.append(half_error)
        if all(isinstance(answer, SourceError) for answer in answers):
            return {
                name: RepoResult("failed", None, str(answer))
                for half, answer in zip(halves, answers, strict=True)
                for name in half
            }
        result: dict[str, RepoResult] = {}
        for half, answer in zip(halves, answers, strict=True):
            result.update(self._split(half, answer) if isinstance(answer, SourceError) else answer)
        return result

    def _batch(self, names: list[str]) -> dict[str, RepoResult]:
        """One query for ``names``; raises when the answer as a whole cannot be used."""
        aliases = {f"r{i}": name for i, name in enumerate(names)}
        response = self.http.post_json("/graphql", _query(names))
        body = response.json() if response.status == 200 else None
        if not isinstance(body, dict):
            reason = f"GraphQL answered {response.summary()} for {_some(names)}"
            raise SourceError(self.http.source, response.path, reason, method="POST", status=response.status)
        errors: list[Any] = body["errors"] if isinstance(body.get("errors"), list) else []
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        # An error whose `path` starts at one alias is about that repository alone; any other error,
        # or an answer without a node for any repository, means the answer cannot be trusted at all.
        mine: dict[str, list[dict[str, Any]]] = {}
        for error in errors:
            alias = _alias_of(error)
            if alias not in aliases:
                described = _describe([error]) if isinstance(error, dict) else repr(error)[:200]
                reason = f"GraphQL errors for {_some(names)}: {described}"
                raise SourceError(self.http.source, response.path, reason, method="POST", status=200)
            mine.setdefault(alias, []).append(error)
        if not any(isinstance(data.get(alias), dict) or alias in mine for alias in aliases):
            reason = f"GraphQL errors for {_some(names)}: no data in the answer"
            raise SourceError(self.http.source, response.path, reason, method="POST", status=200)
        result: dict[str, RepoResult] = {}
        for alias, name in aliases.items():
            own = mine.get(alias, [])
            types = {e.get("type") for e in own}
            if not own and isinstance(data.get(alias), dict):
                result[name] = RepoResult("ok", data[alias])
            elif types == {"NOT_FOUND"}:
                result[name] = RepoResult("missing", None)
            elif types == {"FORBIDDEN"}:
                result[name] = RepoResult("blocked", own[0])
            else:
                reason = f"GraphQL errors for {name}: {_describe(own) if own else 'no data in the answer'}"
                error = SourceError(self.http.source, response.path, reason, method="POST", status=200)
                result[name] = RepoResult("failed", None, str(error))
        return result


def _query(names: list[str]) -> dict[str, Any]:
    variables: dict[str, str] = {}
    declarations: list[str] = []
    selections: list[str] = []
    for i, full_name in enumerate(names):
        variables[f"o{i}"], variables[f"n{i}"] = _split(full_name)
        declarations.append(f"$o{i}: String!, $n{i}: String!")
        selections.append(f"  r{i}: repository(owner: $o{i}, name: $n{i}) {{ ...Repo }}")
    query = "\n".join(
        [
            f"query Repos({', '.join(declarations)}) {{",
            "  rateLimit { cost remaining resetAt }",
            *selections,
            "}",
            _REPO_FRAGMENT,
        ]
    )
    return {"query": query, "variables": variables}


def _unique(full_names: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(full_names))
    for full_name in unique:
        _split(full_name)  # a malformed name fails before any request is made
    return unique


def _split(full_name: str) -> tuple[str, str]:
    owner, _, name = full_name.partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"not an owner/name repository name: {full_name!r}")
    return owner, name


def _alias_of(error: Any) -> str | None:
    path = error.get("path") if isinstance(error, dict) else None
    return path[0] if isinstance(path, list) and path and isinstance(path[0], str) else None


def _describe(errors: list[dict[str, Any]]) -> str:
    # A few errors, each cut short: the text lands in every failed repository's record.
    return "; ".join(f"{e.get('type', 'ERROR')}: {e.get('message', '')}"[:300] for e in errors[:3])


def _is_object(body: Any) -> bool:
    return isinstance(body, dict)


def _is_participation(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("all"), list)


def _some(names: Sequence[str], shown: int = 10) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _moved_to(source: str, response: Response) -> str:
    # GitHub's 301 body names the new location (.../repositories/<id>); Location says the same.
    body = _json_or_none(response)
    target = body.get("url") if isinstance(body, dict) else None
    target = target or response.headers.get("location")
    if not isinstance(target, str) or not target:
        raise SourceError(source, response.path, "301 without a target URL", status=301)
    return target


def _json_or_none(response: Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None
