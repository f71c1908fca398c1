from __future__ import annotations

import re
from typing import Any

import pytest

from assets.sources.github import GitHubClient, Participation, RepoResult
from tests.sources.fake_http import FakeServer, Harness, Reply, Seen
from warehouse.identifiers import github_full_name

ALIAS = re.compile(r"^  (r\d+): repository\(owner: \$(o\d+), name: \$(n\d+)\) \{ \.\.\.Repo \}$", re.M)


def graphql(seen: Seen) -> Reply:
    """GitHub's GraphQL, as far as the client's query shape goes; names containing "gone" do not exist."""
    request = seen.json()
    aliases = ALIAS.findall(request["query"])
    assert request["query"].startswith("query Repos(")
    assert "rateLimit { cost remaining resetAt }" in request["query"]
    assert "fragment Repo on Repository { databaseId nameWithOwner" in request["query"]
    if len(aliases) > 100:
        return Reply(200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": "too many"}]})
    data: dict[str, Any] = {"rateLimit": {"cost": 1, "remaining": 4999, "resetAt": "2026-03-01T00:00:00Z"}}
    errors = []
    for alias, owner_var, name_var in aliases:
        full_name = f"{request['variables'][owner_var]}/{request['variables'][name_var]}"
        if "gone" in full_name:
            data[alias] = None
            errors.append({"type": "NOT_FOUND", "path": [alias], "message": f"Could not resolve {full_name}"})
        else:
            data[alias] = {"nameWithOwner": full_name, "stargazerCount": len(full_name)}
    return Reply(200, {"data": data, "errors": errors} if errors else {"data": data})


@pytest.mark.parametrize(
    ("url", "full_name"),
    [
        ("https://github.com/jazzband/django-debug-toolbar", "jazzband/django-debug-toolbar"),
        ("http://github.com/Owner/Repo/", "owner/repo"),
        ("https://www.github.com/owner/repo.git", "owner/repo"),
        ("https://github.com/owner/repo.js/tree/main/docs?tab=readme#top", "owner/repo.js"),
        ("  git://github.com/owner/repo.git  ", "owner/repo"),
        ("git@github.com:owner/repo.git", "owner/repo"),
        ("ssh://git@github.com/owner/repo", "owner/repo"),
        ("git+https://github.com/owner/repo.git", "owner/repo"),
        ("https://github.com/owner", None),
        ("https://github.com/", None),
        ("https://github.com/orgs/jazzband", None),
        ("https://github.com/sponsors/someone", None),
        ("https://github.com/owner/.git", None),
        ("https://gist.github.com/owner/abc123", None),
        ("https://owner.github.io/repo", None),
        ("https://gitlab.com/owner/repo", None),
        ("https://github.com.evil.example/owner/repo", None),
        ("ftp://github.com/owner/repo", None),
        ("github.com/owner/repo", None),
        ("", None),
        (None, None),
    ],
)
def test_github_full_name(url: str | None, full_name: str | None) -> None:
    assert github_full_name(url) == full_name


def test_graphql_batches_of_at_most_100_with_not_found_as_none(harness: Harness, server: FakeServer) -> None:
    server.on("POST", "/graphql", graphql)
    names = [f"owner{i}/{'gone' if i % 50 == 7 else 'repo'}{i}" for i in range(250)]

    nodes = GitHubClient(harness.client(source="github")).repositories([*names, names[0]])

    posts = server.seen("/graphql")
    assert [len(ALIAS.findall(p.json()["query"])) for p in posts] == [100, 100, 50]
    assert posts[2].json()["variables"]["o49"] == "owner249"
    assert list(nodes) == names
    gone = [n for n in names if "gone" in n]
    assert len(gone) == 5 and all(nodes[n] is None for n in gone)
    assert nodes["owner0/repo0"] == {"nameWithOwner": "owner0/repo0", "stargazerCount": 12}
    assert harness.log.count("github") == 3


def test_graphql_states_keep_blocked_apart_from_missing(harness: Harness, server: FakeServer) -> None:
    blocked = {"type": "FORBIDDEN", "path": ["r1"], "message": "Repository access blocked"}
    missing = {"type": "NOT_FOUND", "path": ["r2"], "message": "Could not resolve to a Repository"}
    answer = {"data": {"r0": {"nameWithOwner": "a/ok"}, "r1": None, "r2": None}, "errors": [blocked, missing]}
    server.on("POST", "/graphql", Reply(200, answer))
    client = GitHubClient(harness.client())

    assert client.repository_states(["a/ok", "b/dmca", "c/gone"]) == {
        "a/ok": RepoResult("ok", {"nameWithOwner": "a/ok"}),
        "b/dmca": RepoResult("blocked", blocked),
        "c/gone": RepoResult("missing", None),
    }
    assert client.repositories(["a/ok", "b/dmca", "c/gone"]) == {
        "a/ok": {"nameWithOwner": "a/ok"},
        "b/dmca": None,
        "c/gone": None,
    }


def test_graphql_errors_on_one_repository_fail_that_repository_alone(
    harness: Harness, server: FakeServer
) -> None:
    error = {"type": "SERVICE_UNAVAILABLE", "path": ["r1"], "message": "Something went wrong"}
    server.on(
        "POST",
        "/graphql",
        Reply(200, {"data": {"r0": {"nameWithOwner": "a/ok"}, "r1": None, "r2": None}, "errors": [error]}),
    )
    states = GitHubClient(harness.client(source="github")).repository_states(["a/ok", "b/flaky", "c/silent"])

    assert states["a/ok"] == RepoResult("ok", {"nameWithOwner": "a/ok"})
    # A null node that no error explains is not taken for a missing repository either.
    assert states["b/flaky"] == RepoResult(
        "failed",
        None,
        "github: POST /graphql failed (status 200): GraphQL errors for b/flaky: SERVICE_UNAVAILABLE: "
        "Something went wrong",
    )
    assert states["c/silent"] == RepoResult(
        "failed",
        None,
        "github: POST /graphql failed (status 200): GraphQL errors for c/silent: no data in the answer",
    )
    assert harness.log.count() == 1  # attributable: nothing to ask again


def test_graphql_without_data_fails_the_whole_batch(harness: Harness, server: FakeServer) -> None:
    server.on("POST", "/graphql", graphql)
    with pytest.raises(ValueError, match="batch_size"):
        GitHubClient(harness.client(), batch_size=101)
    with pytest.raises(ValueError, match="owner/name"):
        GitHubClient(harness.client()).repositories(["just-a-name"])
    server.on(
        "POST", "/graphql", Reply(200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED", "message": "x"}]})
    )
    states = GitHubClient(harness.client(source="github")).repository_states(["a/b", "c/d"])

    # Asked whole, then in halves; both halves failing too ends it.
    assert states == {
        name: RepoResult(
            "failed",
            None,
            f"github: POST /graphql failed (status 200): GraphQL errors for {name}: MAX_NODE_LIMIT_EXCEEDED: x",
        )
        for name in ("a/b", "c/d")
    }
    assert harness.log.count() == 3


def test_rest_repository_states_and_one_followed_rename(harness: Harness, server: FakeServer) -> None:
    moved = {"message": "Moved Permanently", "url": "https://api.example/repositories/42"}
    blocked = {"message": "Repository access blocked", "block": {"reason": "dmca"}}
    server.on(
        "GET", "/repos/old/name", Reply(301, moved, {"Location": "https://api.example/repositories/42"})
    )
    server.on("GET", "/repositories/42", Reply(200, {"id": 42, "full_name": "new/name"}))
    server.on("GET", "/repos/dmca/repo", Reply(451, blocked))
    client = GitHubClient(harness.client())

    assert client.repository("old", "name") == RepoResult("ok", {"id": 42, "full_name": "new/name"})
    assert client.repository("dmca", "repo") == RepoResult("blocked", blocked)
    assert client.repository("deleted", "repo") == RepoResult("missing", None)
    assert [s.path for s in server.seen()] == [
        "/repos/old/name",
        "/repositories/42",
        "/repos/dmca/repo",
        "/repos/deleted/repo",
    ]


def test_participation_retries_only_the_202s_within_bounded_rounds(
    harness: Harness, server: FakeServer
) -> None:
    weeks = {"all": list(range(52)), "owner": [0] * 52}
    computing = Reply(202, {})
    server.on("GET", "/repos/a/slow/stats/participation", computing, computing, Reply(200, weeks))
    server.on("GET", "/repos/a/never/stats/participation", computing)
    server.on("GET", "/repos/a/ready/stats/participation", Reply(200, weeks))
    server.on("GET", "/repos/a/dmca/stats/participation", Reply(451, {"message": "blocked"}))
    names = ["a/slow", "a/never", "a/ready", "a/gone", "a/dmca"]

    result = GitHubClient(harness.client(), participation_wait=2.0, participation_attempts=4).participation(
        names
    )

    ok = Participation("ok", tuple(range(52)), (0,) * 52)
    assert result == {
        "a/slow": ok,
        "a/never": Participation("pending", None, None),
        "a/ready": ok,
        "a/gone": Participation("missing", None, None),
        "a/dmca": Participation("blocked", None, None),
    }
    counts = {n: len(server.seen(f"/repos/{n}/stats/participation")) for n in names}
    assert counts == {"a/slow": 3, "a/never": 4, "a/ready": 1, "a/gone": 1, "a/dmca": 1}
    assert harness.sleeps == [2.0, 4.0, 8.0]  # waits between rounds double; no HTTP-level retries
    assert harness.log.count() == 10 and harness.log.failed() == []


def test_participation_of_a_renamed_repository_follows_the_301(harness: Harness, server: FakeServer) -> None:
    target = "https://api.example/repositories/42/stats/participation"
    server.on(
        "GET",
        "/repos/old/name/stats/participation",
        Reply(301, {"message": "Moved Permanently", "url": target}),
    )
    server.on("GET", "/repositories/42/stats/participation", Reply(202, {}), Reply(200, {"all": [2] * 52}))

    result = GitHubClient(harness.client()).participation(["old/name"])

    assert result == {"old/name": Participation("ok", (2,) * 52, None)}
    assert [s.path for s in server.seen()] == [
        "/repos/old/name/stats/participation",
        "/repositories/42/stats/participation",
        "/repos/old/name/stats/participation",
        "/repositories/42/stats/participation",
    ]


def test_participation_stops_waiting_once_nothing_is_pending(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/repos/a/b/stats/participation", Reply(202, {}), Reply(200, {"all": [1] * 52}))
    result = GitHubClient(harness.client(), participation_attempts=3).participation(["a/b"])
    assert result == {"a/b": Participation("ok", (1,) * 52, None)}
    assert harness.sleeps == [2.0]


def test_participation_answer_without_weeks_fails_that_repository(
    harness: Harness, server: FakeServer
) -> None:
    server.on("GET", "/repos/a/b/stats/participation", Reply(200, {"owner": []}))
    server.on("GET", "/repos/a/c/stats/participation", Reply(200, {"all": [1] * 52}))
    result = GitHubClient(harness.client(source="github", max_attempts=2)).participation(["a/b", "a/c"])
    assert result["a/c"] == Participation("ok", (1,) * 52, None)
    assert result["a/b"] == Participation(
        "failed",
        None,
        None,
        "github: GET /repos/a/b/stats/participation failed (status 200, 2 attempts): "
        'HTTP 200 (application/json) is not the expected document: {"owner": []}',
    )


def test_participation_failures_are_per_repository(harness: Harness, server: FakeServer) -> None:
    weeks = {"all": [3] * 52, "owner": [1] * 52}
    html = b"<html><body>Unicorn!</body></html>"
    server.on("GET", "/repos/a/ok/stats/participation", Reply(200, weeks))
    server.on("GET", "/repos/a/down/stats/participation", Reply(502, html, {"Content-Type": "text/html"}))
    server.on("GET", "/repos/a/html/stats/participation", Reply(200, html, {"Content-Type": "text/html"}))
    server.on(
        "GET", "/repos/a/loop/stats/participation", Reply(301, {"url": "/repos/a/loop2/stats/participation"})
    )
    server.on(
        "GET", "/repos/a/loop2/stats/participation", Reply(301, {"url": "/repos/a/loop/stats/participation"})
    )
    server.on("GET", "/repos/a/nowhere/stats/participation", Reply(301, {"message": "Moved Permanently"}))
    server.on("GET", "/repos/a/computing/stats/participation", Reply(202, {}))
    names = ["a/ok", "a/down", "a/html", "a/loop", "a/nowhere", "a/computing", "a/gone"]

    result = GitHubClient(harness.client(source="github", max_attempts=2, backoff=0)).participation(names)

    assert {n: p.status for n, p in result.items()} == {
        "a/ok": "ok",
        "a/down": "failed",
        "a/html": "failed",
        "a/loop": "failed",
        "a/nowhere": "failed",
        "a/computing": "pending",
        "a/gone": "missing",
    }
    assert result["a/ok"] == Participation("ok", (3,) * 52, (1,) * 52)
    assert result["a/computing"] == Participation("pending", None, None)
    assert (result["a/down"].all, result["a/down"].owner) == (None, None)
    assert (result["a/down"].error or "").startswith(
        "github: GET /repos/a/down/stats/participation failed (status 502, 2 attempts): HTTP 502 (text/html)"
    )
    assert "HTTP 200 (text/html) is not JSON" in (result["a/html"].error or "")
    assert "GET /repos/a/loop2/stats/participation failed (status 301, 1 attempt)" in (
        result["a/loop"].error or ""
    )
    assert "301 without a target URL" in (result["a/nowhere"].error or "")
    # Failed repositories are not asked again in later rounds; only the 202 is.
    counts = {n: len(server.seen(f"/repos/{n}/stats/participation")) for n in names}
    assert counts == {
        "a/ok": 1,
        "a/down": 2,
        "a/html": 2,
        "a/loop": 1,
        "a/nowhere": 1,
        "a/computing": 2,
        "a/gone": 1,
    }
    # Seven first calls, the loop's one followed redirect, one more round for the 202.
    assert harness.log.count() == 9
    assert sorted((r.path, r.status, r.attempts) for r in harness.log.failed()) == [
        ("/repos/a/down/stats/participation", 502, 2),
        ("/repos/a/html/stats/participation", 200, 2),
        ("/repos/a/loop2/stats/participation", 301, 1),
    ]
    assert [s for s in harness.sleeps if s] == [2.0]


def poisoned(failure: Reply) -> Any:
    """GraphQL that answers ``failure`` to any query naming a repository called "poison"."""

    def answer(seen: Seen) -> Reply:
        return failure if '"poison"' in seen.body.decode() else graphql(seen)

    return answer


@pytest.mark.parametrize(
    ("failure", "reason", "failed_requests"),
    [
        (Reply(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}), "HTTP 502 (text/html)", 4),
        (
            Reply(200, b"<html>Unicorn</html>", {"Content-Type": "text/html"}),
            "HTTP 200 (text/html) is not JSON",
            4,
        ),
        # Answers that HTTP delivered fine: the requests succeeded, the batches did not.
        (Reply(200, {"errors": [{"message": "Something went wrong"}]}), "ERROR: Something went wrong", 0),
        (Reply(200, {"data": {"rateLimit": None}}), "no data in the answer", 0),
        (Reply(200, ["not", "an", "answer"]), 'GraphQL answered HTTP 200 (application/json): ["not"', 0),
    ],
)
def test_a_failing_batch_is_halved_down_to_the_repository_that_breaks_it(
    harness: Harness, server: FakeServer, failure: Reply, reason: str, failed_requests: int
) -> None:
    server.on("POST", "/graphql", poisoned(failure))
    names = [f"o{i}/r{i}" for i in range(5)] + ["x/poison"] + [f"o{i}/r{i}" for i in range(6, 8)]

    states = GitHubClient(harness.client(source="github", max_attempts=2, backoff=0)).repository_states(names)

    assert list(states) == names
    assert {n: s.status for n, s in states.items() if s.status != "ok"} == {"x/poison": "failed"}
    assert states["o0/r0"] == RepoResult("ok", {"nameWithOwner": "o0/r0", "stargazerCount": 5})
    assert states["x/poison"].doc is None and reason in (states["x/poison"].error or "")
    # 8 -> 4 + 4 -> (4..7) 2 + 2 -> (4, 5) 1 + 1: seven queries, four of them failing.
    queried = [len(ALIAS.findall(r.json()["query"])) for r in server.seen("/graphql")]
    assert harness.log.count() == 7 and len(harness.log.failed()) == failed_requests
    assert len(queried) == 7 + failed_requests  # a failed request was asked twice (max_attempts=2)
    assert sorted(set(queried), reverse=True) == [8, 4, 2, 1]


@pytest.mark.parametrize("failure", [Reply(503, {"message": "down"}), Reply(drop=True)])
def test_when_both_halves_fail_too_the_batch_fails_as_it_stands(
    harness: Harness, server: FakeServer, failure: Reply
) -> None:
    server.on("POST", "/graphql", failure)
    names = [f"o{i}/r{i}" for i in range(250)]

    states = GitHubClient(harness.client(source="github", max_attempts=2, backoff=0)).repository_states(names)

    assert list(states) == names and {s.status for s in states.values()} == {"failed"}
    assert all((s.error or "").startswith("github: POST /graphql failed") for s in states.values())
    # Each of the three batches: once whole, once per half; never smaller.
    assert harness.log.count() == 9 and len(harness.log.failed()) == 9
    assert len(server.seen("/graphql")) == 18
