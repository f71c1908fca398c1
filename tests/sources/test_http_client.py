from __future__ import annotations

import pickle
import socket
import time
from datetime import UTC, date
from email.utils import formatdate

import pytest

from assets.sources.http import DEFAULT_USER_AGENT, Response, SourceError, bounded_map, server_date
from tests.sources.fake_http import FakeServer, Harness, Reply

TOKEN = "ghp_sekrit0123456789"


def test_retries_503_then_succeeds_and_records_one_call(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(503), Reply(503), Reply(200, {"ok": 1}))
    response = harness.client(backoff=0.5).get("/x")

    assert response.json() == {"ok": 1}
    assert len(server.seen("/x")) == 3
    [record] = harness.log.records
    assert (record.source, record.method, record.path, record.status) == ("test", "GET", "/x", 200)
    assert (record.attempts, record.ok, record.error) == (3, True, None)
    assert record.started_at.tzinfo is UTC and record.elapsed_ms >= 0
    # Exponential backoff with jitter: each wait lies in [d/2, d] for d = 0.5, 1.0.
    assert len(harness.sleeps) == 2
    assert 0.25 <= harness.sleeps[0] <= 0.5 and 0.5 <= harness.sleeps[1] <= 1.0


def test_retry_after_seconds_is_honoured(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(429, {"message": "slow down"}, {"Retry-After": "7"}), Reply(200, {}))
    assert harness.client().get("/x").status == 200
    assert harness.sleeps == [7.0]
    assert harness.log.records[0].attempts == 2


def test_retry_after_http_date_is_honoured(harness: Harness, server: FakeServer) -> None:
    later = formatdate(time.time() + 30, usegmt=True)
    server.on("GET", "/x", Reply(503, {}, {"Retry-After": later}), Reply(200, {}))
    harness.client().get("/x")
    [wait] = harness.sleeps
    assert 28 <= wait <= 31


def test_exhausted_rate_limit_waits_until_reset(harness: Harness, server: FakeServer) -> None:
    reset = int(time.time()) + 42
    limited = Reply(
        403,
        {"message": "API rate limit exceeded"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    server.on("GET", "/x", limited, Reply(200, {"ok": True}))
    assert harness.client().get("/x").json() == {"ok": True}
    [wait] = harness.sleeps
    assert 40 <= wait <= 43


def test_untold_rate_limit_waits_at_least_a_minute(harness: Harness, server: FakeServer) -> None:
    limited = Reply(403, {"message": "You have exceeded a secondary rate limit."})
    server.on("GET", "/x", limited, Reply(200, {}))
    harness.client().get("/x")
    assert harness.sleeps == [60.0]


def test_plain_403_is_a_refusal_not_a_limit(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(403, {"message": "Forbidden"}, {"x-ratelimit-remaining": "4999"}))
    with pytest.raises(SourceError, match="unexpected HTTP 403"):
        harness.client().get("/x")
    assert len(server.seen("/x")) == 1 and harness.sleeps == []


def test_wait_longer_than_max_wait_raises_instead_of_sleeping(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(429, {"message": "later"}, {"Retry-After": "3600"}))
    with pytest.raises(SourceError) as caught:
        harness.client(source="github", max_wait=120).get("/x", params={"page": 2})

    message = str(caught.value)
    assert message.startswith("github: GET /x?page=2 failed (status 429, 1 attempt)")
    assert "asked to wait 3600 s, more than max_wait 120 s" in message
    assert harness.sleeps == []
    [record] = harness.log.failed()
    assert (record.path, record.status, record.attempts, record.ok) == ("/x?page=2", 429, 1, False)


def test_gives_up_after_max_attempts(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(500, {"detail": "boom"}))
    with pytest.raises(SourceError, match=r"failed \(status 500, 3 attempts\): HTTP 500"):
        harness.client(max_attempts=3).get("/x")
    assert len(server.seen("/x")) == 3 and len(harness.sleeps) == 2
    assert harness.log.count() == 1 and len(harness.log.failed()) == 1


def test_404_is_returned_not_raised(harness: Harness, server: FakeServer) -> None:
    assert harness.client().get("/nothing-here").status == 404
    assert harness.log.records[0].ok and harness.log.records[0].attempts == 1


def test_truncated_body_is_retried(harness: Harness, server: FakeServer) -> None:
    document = {"results": list(range(500))}
    server.on("GET", "/x", Reply(200, document, truncate=True), Reply(200, document))
    assert harness.client().get("/x").json() == document
    assert harness.log.records[0].attempts == 2


def test_invalid_json_on_200_is_retried(harness: Harness, server: FakeServer) -> None:
    broken = Reply(200, b'{"results": [1, 2', {"Content-Type": "application/json"})
    server.on("GET", "/x", broken, Reply(200, {"results": [1, 2]}))
    assert harness.client().get("/x").json() == {"results": [1, 2]}
    assert harness.log.records[0].attempts == 2


def test_dropped_connection_is_retried(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(drop=True), Reply(200, {}))
    assert harness.client().get("/x").status == 200
    assert harness.log.records[0].attempts == 2


def test_read_timeout_is_retried(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(200, {}, delay=0.5), Reply(200, {"fast": True}))
    assert harness.client(timeout=0.1).get("/x").json() == {"fast": True}
    [record] = harness.log.records
    assert record.attempts == 2 and record.ok


def test_source_error_survives_pickling() -> None:
    error = SourceError("github", "/graphql", "GraphQL errors", method="POST", status=200, attempts=2)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == "github: POST /graphql failed (status 200, 2 attempts): GraphQL errors"
    assert (copy.source, copy.path, copy.status, copy.attempts) == ("github", "/graphql", 200, 2)


def test_absolute_url_is_rebased_onto_the_configured_host(
    harness: Harness, server: FakeServer, make_server
) -> None:
    elsewhere = make_server()
    server.on("GET", "/api/items/", Reply(200, {"from": "configured"}))
    response = harness.client().get(f"{elsewhere.base_url}/api/items/?offset=5#frag")

    assert response.json() == {"from": "configured"}
    assert server.seen()[0].path == "/api/items/?offset=5"
    assert elsewhere.requests == []
    assert harness.log.records[0].path == "/api/items/?offset=5"


def test_base_url_path_prefix_is_not_doubled(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/mirror/api/x/", Reply(200, {}))
    client = harness.client(base_url=f"{server.base_url}/mirror/")
    client.get("http://far.example/mirror/api/x/?page=2")
    client.get("api/x/")
    assert [s.path for s in server.seen()] == ["/mirror/api/x/?page=2", "/mirror/api/x/"]
    assert [r.path for r in harness.log.records] == ["/api/x/?page=2", "/api/x/"]


def test_redirects_are_returned_not_followed(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/old", Reply(301, {"url": "/new"}, {"Location": "/new"}))
    client = harness.client()
    assert client.get("/old", ok_statuses=(301,)).status == 301
    with pytest.raises(SourceError, match="unexpected HTTP 301"):
        client.get("/old")
    assert [s.path for s in server.seen()] == ["/old", "/old"]


def test_conditional_request_returns_304(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(304, b""))
    response = harness.client().get("/x", etag='"abc"')
    assert response.status == 304 and response.body == b""
    assert server.seen()[0].headers["if-none-match"] == '"abc"'


def test_identifies_itself_and_posts_json(harness: Harness, server: FakeServer) -> None:
    server.on("POST", "/graphql", lambda seen: Reply(200, {"echo": seen.json()}))
    response = harness.client().post_json("/graphql", {"query": "{ x }"})
    assert response.json() == {"echo": {"query": "{ x }"}}
    [seen] = server.seen()
    assert seen.headers["user-agent"] == DEFAULT_USER_AGENT
    assert seen.headers["content-type"] == "application/json"
    assert harness.log.records[0].method == "POST"


def test_token_is_sent_but_never_recorded_or_raised(harness: Harness, server: FakeServer) -> None:
    # A misbehaving server that echoes the credential into its error body.
    server.on("GET", "/x", lambda seen: Reply(500, {"echo": seen.headers.get("authorization")}))
    server.on("GET", "/ok", Reply(200, {}))
    client = harness.client(headers={"Authorization": f"Bearer {TOKEN}"}, max_attempts=2)

    client.get("/ok")
    assert server.seen("/ok")[0].headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(SourceError) as caught:
        client.get("/x")
    assert TOKEN not in str(caught.value) and "***" in str(caught.value)

    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    dead = harness.client(
        base_url=f"http://127.0.0.1:{closed_port}",
        headers={"Authorization": f"token {TOKEN}"},
        max_attempts=2,
    )
    with pytest.raises(SourceError, match="ConnectionError") as refused:
        dead.get("/y")
    assert TOKEN not in str(refused.value)
    assert harness.log.records[-1].status is None

    for record in harness.log.records:
        assert TOKEN not in record.path and TOKEN not in (record.error or "")


def test_safe_from_a_small_thread_pool(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/item", lambda seen: Reply(200, {"n": int(seen.query["n"])}))
    client = harness.client()
    answers = bounded_map(lambda n: client.get("/item", params={"n": n}).json()["n"], range(40), 4)
    assert answers == list(range(40))
    assert harness.log.count("test") == 40 and harness.log.count("other") == 0
    assert harness.log.failed() == []


def test_bounded_map_propagates_the_first_error() -> None:
    def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n

    with pytest.raises(ValueError, match="three"):
        bounded_map(fail_on_three, range(10), 4)


@pytest.mark.parametrize(
    ("header", "day"),
    [
        ("Tue, 03 Mar 2026 23:30:00 GMT", date(2026, 3, 3)),
        ("Wed, 04 Mar 2026 01:00:00 +0200", date(2026, 3, 3)),
    ],
)
def test_server_date_is_the_utc_day_of_the_date_header(header: str, day: date) -> None:
    assert server_date(Response(200, {"date": header}, b"", "/")) == day


def test_server_date_without_header_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Date header"):
        server_date(Response(200, {}, b"", "/api/v4/"))
