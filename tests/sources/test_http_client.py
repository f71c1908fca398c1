from __future__ import annotations

import _thread
import gzip
import pickle
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assets.sources.http import (
    DEFAULT_USER_AGENT,
    Response,
    SourceError,
    Stopped,
    bounded_map,
    server_date,
    together,
)
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


class _Endless(BaseHTTPRequestHandler):
    """Streams a chunked body that never ends: only a reader that stops at its cap gets an answer."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"[" + b"0," * 32767 + b"0"
        try:
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:  # the client hung up: what it should do
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endless() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_body_at_the_cap_is_read(harness: Harness, server: FakeServer) -> None:
    body = b'{"x": "' + b"a" * 993 + b'"}'
    server.on("GET", "/x", Reply(200, body, {"Content-Type": "application/json"}))
    assert len(body) == 1002
    assert harness.client(max_body_bytes=1002).get("/x").json() == {"x": "a" * 993}
    assert harness.log.failed() == []


def test_a_declared_body_over_the_cap_fails_at_once(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/big", Reply(200, {"x": "a" * 2000}))
    with pytest.raises(SourceError) as caught:
        harness.client(source="pypi", max_body_bytes=1000).get("/big", params={"page": 1})
    assert str(caught.value) == (
        "pypi: GET /big?page=1 failed (status 200, 1 attempt): "
        "response body larger than the cap of 1,000 bytes (DPW_MAX_BODY_BYTES)"
    )
    assert caught.value.answered
    [record] = harness.log.records
    assert (record.path, record.status, record.attempts, record.ok) == ("/big?page=1", 200, 1, False)
    assert len(server.seen()) == 1  # not retried: the same body would come again


def test_an_endless_body_is_cut_at_the_cap(harness: Harness, endless: str) -> None:
    started = time.perf_counter()
    with pytest.raises(
        SourceError, match=r"GET /stream failed \(status 200, 1 attempt\): .*cap of 1,048,576 bytes"
    ):
        harness.client(base_url=endless, max_body_bytes=1024 * 1024).get("/stream")
    assert time.perf_counter() - started < 10
    assert harness.log.count() == 1


def test_a_compressed_body_is_capped_by_its_decoded_size(harness: Harness, server: FakeServer) -> None:
    bomb = gzip.compress(b'{"x": "' + b"0" * 2_000_000 + b'"}')
    assert len(bomb) < 10_000
    server.on(
        "GET", "/gz", Reply(200, bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    )
    with pytest.raises(SourceError, match="larger than the cap of 1,000,000 bytes"):
        harness.client(max_body_bytes=1_000_000).get("/gz")
    assert harness.client().get("/gz").json() == {"x": "0" * 2_000_000}


def test_one_call_may_allow_a_larger_body(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/index", Reply(200, {"projects": ["p"] * 1000}))
    client = harness.client(max_body_bytes=100)
    with pytest.raises(SourceError, match="cap of 100 bytes"):
        client.get("/index")
    assert client.get("/index", max_body_bytes=100_000).json() == {"projects": ["p"] * 1000}


def test_max_body_bytes_must_be_positive(harness: Harness) -> None:
    with pytest.raises(ValueError, match="max_body_bytes"):
        harness.client(max_body_bytes=0)


HTML = b"<html>\n<body>\r\n  Down for maintenance\x1b[31m</body></html>"


def test_a_200_that_is_not_json_is_retried_then_fails(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(200, HTML, {"Content-Type": "text/html; charset=utf-8"}))
    with pytest.raises(SourceError) as caught:
        harness.client(max_attempts=3).get("/x")
    message = str(caught.value)
    assert message.startswith(
        "test: GET /x failed (status 200, 3 attempts): HTTP 200 (text/html; charset=utf-8) is not JSON (Expecting value"
    )
    # One line, without the control bytes of the body.
    assert message.endswith(": <html> <body> Down for maintenance [31m</body></html>")
    assert caught.value.answered and len(server.seen()) == 3 and len(harness.sleeps) == 2


def test_a_200_that_is_not_json_then_json_succeeds(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(200, HTML, {"Content-Type": "text/html"}), Reply(200, {"ok": True}))
    assert harness.client().get("/x").json() == {"ok": True}
    [record] = harness.log.records
    assert (record.attempts, record.ok, record.status) == (2, True, 200)


def test_without_expect_json_any_200_body_is_returned(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(200, HTML, {"Content-Type": "text/html"}))
    response = harness.client().get("/x", expect_json=False)
    assert response.body == HTML and len(server.seen()) == 1


def test_post_json_expects_json_too(harness: Harness, server: FakeServer) -> None:
    server.on("POST", "/graphql", Reply(200, HTML, {"Content-Type": "text/html"}))
    client = harness.client(max_attempts=2)
    with pytest.raises(
        SourceError,
        match=r"POST /graphql failed \(status 200, 2 attempts\): HTTP 200 \(text/html\) is not JSON",
    ):
        client.post_json("/graphql", {"query": "{ x }"})
    assert client.post_json("/graphql", {}, expect_json=False).body == HTML


def test_a_json_body_of_the_wrong_shape_is_retried(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(200, ["not", "an", "object"]), Reply(200, {"count": 1}))
    assert harness.client().get("/x", shape=lambda body: isinstance(body, dict)).json() == {"count": 1}
    assert harness.log.records[0].attempts == 2
    server.on("GET", "/y", Reply(200, ["not", "an", "object"]))
    with pytest.raises(SourceError, match=r'is not the expected document: \["not", "an", "object"\]'):
        harness.client(max_attempts=2).get("/y", shape=lambda body: isinstance(body, dict))


def test_json_nested_past_the_parser_is_not_json(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(200, b"[" * 200_000 + b"]" * 200_000, {"Content-Type": "application/json"}))
    with pytest.raises(SourceError, match="is not JSON"):
        harness.client(max_attempts=1).get("/x")


def test_an_unparsable_url_is_a_source_error(harness: Harness) -> None:
    with pytest.raises(SourceError, match=r"GET http://\[::1/x failed: not a URL"):
        harness.client().get("http://[::1/x")


def test_answered_tells_a_bad_answer_from_no_answer(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/x", Reply(503, {}))
    with pytest.raises(SourceError) as bad:
        harness.client(max_attempts=2).get("/x")
    assert bad.value.answered
    server.on("GET", "/y", Reply(drop=True))
    with pytest.raises(SourceError) as none:
        harness.client(max_attempts=2).get("/y")
    assert not none.value.answered and none.value.status is None
    # A body cut short after the status line is an answer, only not a whole one.
    document = {"results": list(range(500))}
    server.on("GET", "/z", Reply(200, document, truncate=True))
    with pytest.raises(SourceError) as cut:
        harness.client(max_attempts=2).get("/z")
    assert cut.value.answered and cut.value.status == 200


def test_a_token_echoed_in_another_case_is_scrubbed_everywhere(harness: Harness, server: FakeServer) -> None:
    upper, mixed = TOKEN.upper(), TOKEN.swapcase()
    server.on("GET", "/error", Reply(500, {"echo": f"Bearer {upper}"}))
    server.on("GET", "/doc", Reply(200, {"note": f"your token is {mixed}"}, {"X-Echo": upper}))
    server.on("GET", "/moved", Reply(301, b"", {"Location": f"/new?access_token={upper}"}))
    client = harness.client(headers={"Authorization": f"Bearer {TOKEN}"}, max_attempts=2)

    with pytest.raises(SourceError) as caught:
        client.get("/error")
    assert str(caught.value).endswith('{"echo": "***"}') and TOKEN.lower() not in str(caught.value).lower()

    document = client.get("/doc")
    assert document.json() == {"note": "your token is ***"} and document.headers["x-echo"] == "***"
    assert TOKEN.lower() not in document.body.decode().lower()

    moved = client.get("/moved", ok_statuses=(301,))
    assert moved.headers["location"] == "/new?access_token=***"
    client.get(f"/search?q={mixed}")

    for record in harness.log.records:
        assert TOKEN.lower() not in f"{record.path} {record.error}".lower()
    assert harness.log.records[-1].path == "/search?q=***"


def test_source_error_pickling_keeps_answered() -> None:
    error = SourceError("pypi", "/pypi/x/json", "ConnectionError", attempts=4, answered=False)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.answered is False and str(copy) == str(error)
    assert SourceError("pypi", "/x", "HTTP 503", status=503).answered


def test_bounded_map_runs_every_item_whose_fn_returns_its_failure() -> None:
    def fetch(n: int) -> str:
        return "failed" if n % 3 == 0 else "ok"

    assert bounded_map(fetch, range(7), 3) == ["failed", "ok", "ok", "failed", "ok", "ok", "failed"]


def test_ctrl_c_in_one_item_propagates_at_once_and_drops_pending_items() -> None:
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 1:
            raise KeyboardInterrupt
        time.sleep(0.5)
        return n

    clock = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        bounded_map(work, range(40), 2)
    # Neither the 20 x 0.5 s all would take on two threads, nor item 0 still in flight, is waited for.
    assert time.perf_counter() - clock < 0.4
    time.sleep(0.6)  # whatever was in flight has ended by now; nothing new may have started
    assert len(started) <= 3


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Python's own SIGINT handler for the test: ``interrupt_main`` calls whatever handler is installed, and
    a library run earlier in the session (Dagster captures interrupts while it executes) may have left
    another, under which the simulated Ctrl-C raises nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_in_the_waiting_thread_cancels_the_items_not_started() -> None:
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 0:
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread
        time.sleep(0.3)
        return n

    clock = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        bounded_map(work, range(40), 2)
    assert time.perf_counter() - clock < 0.25
    time.sleep(0.5)
    assert len(started) <= 2


def test_an_integer_too_long_for_python_stays_its_digits_instead_of_failing_the_page():
    from assets.sources.http import load_json

    huge = "9" * 5000
    page = load_json(f'{{"count": 2, "results": [{{"id": {huge}}}, {{"id": 7}}]}}'.encode())
    assert page["results"] == [{"id": huge}, {"id": 7}]


def test_together_runs_the_tasks_at_the_same_time_and_hands_back_each_failure() -> None:
    def slow(value: int) -> int:
        time.sleep(0.3)
        return value

    def broken() -> int:
        time.sleep(0.1)
        raise ValueError("broke")

    clock = time.perf_counter()
    results = together({"a": lambda: slow(1), "b": broken, "c": lambda: slow(3)}, stop=lambda: None)
    # One task's time, not the sum; the failure is b's alone.
    assert time.perf_counter() - clock < 0.55
    assert list(results) == ["a", "b", "c"] and results["a"] == 1 and results["c"] == 3
    assert isinstance(results["b"], ValueError)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_while_together_waits_stops_every_task_at_its_next_request(
    harness: Harness, server: FakeServer
) -> None:
    server.on("GET", "/x", Reply(200, {}))
    client = harness.client()
    # Bounded, so an interrupt that never arrives fails the test instead of hanging the suite.
    deadline = time.monotonic() + 10

    def crawl() -> None:
        while time.monotonic() < deadline:
            client.get("/x")

    threading.Timer(0.2, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        together({"crawl": crawl}, stop=harness.log.stop)
    time.sleep(0.2)  # the request in flight ends
    made = len(harness.log.records)
    time.sleep(0.2)
    assert made > 0 and len(harness.log.records) == made  # and none after it
    with pytest.raises(Stopped, match="not asked: the capture was stopped"):
        client.get("/x")
    assert len(harness.log.records) == made  # a request not made is not logged
