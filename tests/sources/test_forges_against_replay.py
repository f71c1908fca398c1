"""The GitLab and Bitbucket clients over real HTTP against the replay server's synthetic packages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from assets.sources.forges import BITBUCKET_ANONYMOUS_HOURLY, BitbucketClient, GitLabClient
from assets.sources.http import SourceError
from replay.server import ReplayServer
from tests.sources.fake_http import Harness
from warehouse.identifiers import forge_repository


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    # About 11% of synthetic packages link to Bitbucket and 1% to GitLab.
    with ReplayServer(synthetic=800, seed=3) as server:
        yield server


@pytest.fixture
def harness(replay: ReplayServer) -> Iterator[Harness]:
    replay.reset_counts()  # a fresh hourly window
    harness = Harness(replay.base_url)
    yield harness
    harness.close()


def linked(replay: ReplayServer, host: str) -> list[str]:
    found = (forge_repository(p.get("repo_url")) for p in replay.bundle.packages)
    return sorted({path for h, path in filter(None, found) if h == host})


def test_gitlab_answers_each_project_by_its_url_encoded_path(replay: ReplayServer, harness: Harness) -> None:
    paths = linked(replay, "gitlab")
    states = GitLabClient(harness.client("gitlab")).states(paths)
    assert paths and list(states) == paths
    assert {s.status for s in states.values()} == {"ok"}
    for path, state in states.items():
        assert state.doc is not None and state.doc["path_with_namespace"] == path
        assert isinstance(state.doc["last_activity_at"], str) and state.doc["star_count"] >= 0
    assert all("%2F" in r.path for r in harness.log.records)
    assert GitLabClient(harness.client("gitlab")).document("nobody/nothing") is None  # 404


def test_bitbucket_without_a_token_stays_inside_the_anonymous_hour(
    replay: ReplayServer, harness: Harness
) -> None:
    paths = linked(replay, "bitbucket")
    assert len(paths) > BITBUCKET_ANONYMOUS_HOURLY
    client = BitbucketClient(harness.client("bitbucket"), budget=BITBUCKET_ANONYMOUS_HOURLY)
    states = client.states(paths)

    # The first 60 in the order given are asked; the rest are left for the caller to carry over.
    assert list(states) == paths[:BITBUCKET_ANONYMOUS_HOURLY]
    assert replay.request_counts()["bitbucket"] == BITBUCKET_ANONYMOUS_HOURLY == len(harness.log.records)
    assert {r.status for r in harness.log.records} <= {200, 404} and client.budget == 0
    gone = [p for p, s in states.items() if s.status == "missing"]
    ok = [s.doc for s in states.values() if s.status == "ok"]
    assert gone and all(s.doc is None for p, s in states.items() if p in gone)  # removed Mercurial ones
    assert ok and all(isinstance(d, dict) and isinstance(d["updated_on"], str) for d in ok)


def test_the_replay_refuses_a_61st_anonymous_request_as_bitbucket_does(
    replay: ReplayServer, harness: Harness
) -> None:
    path = linked(replay, "bitbucket")[0]
    http = harness.client("bitbucket", max_attempts=1)
    told = [http.get(f"/2.0/repositories/{path}").headers["x-ratelimit-remaining"] for _ in range(60)]
    assert told[0] == "59" and told[-1] == "0"
    with pytest.raises(SourceError) as refused:
        http.get(f"/2.0/repositories/{path}")
    assert refused.value.status == 429 and "Rate limit for this resource has been exceeded" in str(
        refused.value
    )
    # A client whose budget the headers lowered to nothing asks no more.
    assert BitbucketClient(harness.client("bitbucket"), budget=0).states([path]) == {}


def _spend(replay: ReplayServer, requests_made: int) -> None:
    """Anonymous requests of another caller at the same address earlier in the hour."""
    with requests.Session() as session:
        for _ in range(requests_made):
            session.get(f"{replay.base_url}/2.0/repositories/someone/else", timeout=10)


def test_bitbucket_keeps_to_what_the_headers_say_is_left_of_an_hour_others_spent_in_part(
    replay: ReplayServer, harness: Harness
) -> None:
    paths = linked(replay, "bitbucket")
    _spend(replay, 45)
    client = BitbucketClient(harness.client("bitbucket"), budget=BITBUCKET_ANONYMOUS_HOURLY)
    states = client.states(paths)

    # The first answer said 14 left after it: 15 asked, and the replay's hour holds exactly its 60.
    assert list(states) == paths[:15] and client.budget == 0
    assert replay.request_counts()["bitbucket"] == BITBUCKET_ANONYMOUS_HOURLY
    assert {r.status for r in harness.log.records} <= {200, 404}


def test_bitbucket_asks_nothing_more_once_the_hour_turns_out_spent(
    replay: ReplayServer, harness: Harness
) -> None:
    paths = linked(replay, "bitbucket")
    _spend(replay, BITBUCKET_ANONYMOUS_HOURLY)
    client = BitbucketClient(harness.client("bitbucket"), budget=BITBUCKET_ANONYMOUS_HOURLY)

    # The one refusal ends the run's asking: no repository is failed, every one is left to carry over.
    assert client.states(paths) == {} and client.budget == 0
    assert [r.status for r in harness.log.records] == [429]
