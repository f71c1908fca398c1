"""Rate faults over real loopback HTTP: what strikes, how often, and the same sequence for the same seed."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from replay.server import ReplayServer

TINY = Path(__file__).parent / "tiny_bundle"
ROOT = Path(__file__).parents[2]
SPEC = "5xx=0.1,timeout=0.02,truncate=0.01,html=0.01,stats202=0.3,timeout_s=0"
# One of each source; acme/django-beta has weekly numbers and is never "computing" on its own.
PATHS = (
    "/api/v4/packages/7001/",
    "/pypi/django-alpha/json",
    "/repos/acme/django-beta",
    "/repos/acme/django-beta/stats/participation",
)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = "Bearer replay-token"  # GitHub's GraphQL answers no one without
        yield session


def outcome(http: requests.Session, url: str, timeout: float = 10) -> str:
    """What a client sees: ok, 5xx:<status>, timeout (no answer), truncate, html or stats202."""
    try:
        answer = http.get(url, timeout=timeout)
    except requests.exceptions.ChunkedEncodingError:
        return "truncate"
    except (requests.ConnectionError, requests.Timeout):
        return "timeout"
    if answer.status_code in (500, 502, 503):
        assert answer.json()["message"] == f"Injected fault: HTTP {answer.status_code}"
        return f"5xx:{answer.status_code}"
    if answer.headers["Content-Type"].startswith("text/html"):
        assert answer.status_code == 200 and answer.text.startswith("<!DOCTYPE html>")
        return "html"
    if answer.status_code == 202:
        assert answer.json() == {}
        return "stats202"
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    answer.json()
    return "ok"


def crawl(srv: ReplayServer, http: requests.Session, n: int) -> list[str]:
    return [outcome(http, srv.base_url + PATHS[i % len(PATHS)]) for i in range(n)]


def test_rates_strike_about_as_often_as_configured_and_repeat_for_a_seed(http: requests.Session) -> None:
    with ReplayServer(TINY, faults=SPEC, seed=7) as srv:
        seen = crawl(srv, http, 2000)
        kinds = Counter(s.split(":")[0] for s in seen)
        report = srv.rate_faults()
        assert report["requests"] == 2000 and report["seed"] == 7 and report["spec"] == SPEC
        assert {k: kinds[k] for k in report["fired"]} == report["fired"]
        # Expected counts +- about four standard deviations; the seed makes the draw fixed anyway.
        assert 150 <= kinds["5xx"] <= 250  # 10% of 2,000
        assert 20 <= kinds["timeout"] <= 65  # 2%
        assert 7 <= kinds["truncate"] <= 35  # 1%
        assert 7 <= kinds["html"] <= 35  # 1%
        assert 105 <= kinds["stats202"] <= 195  # 30% of the 500 participation requests
        participation = Counter(s for i, s in enumerate(seen) if i % 4 == 3)
        assert sum(n for s, n in participation.items() if s != "ok") > kinds["stats202"]
        assert all(s != "stats202" for i, s in enumerate(seen) if i % 4 != 3)
        assert {s for s in seen if s.startswith("5xx")} == {"5xx:500", "5xx:502", "5xx:503"}
        assert kinds["ok"] == 2000 - sum(report["fired"].values())

        srv.set_rate_faults(SPEC, seed=7)
        assert crawl(srv, http, 400) == seen[:400]
        srv.set_rate_faults(SPEC, seed=8)
        other = crawl(srv, http, 400)
        assert other != seen[:400] and Counter(other)["ok"] > 200
        srv.set_rate_faults(None)
        assert crawl(srv, http, 40) == ["ok"] * 40


def test_a_timeout_holds_past_the_client_read_timeout_then_hangs_up(http: requests.Session) -> None:
    with ReplayServer(TINY, faults="timeout=1,timeout_s=5") as srv:
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            http.get(f"{srv.base_url}/api/v4/packages/", timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 2
        srv.set_rate_faults("timeout=1,timeout_s=0.2")
        started = time.monotonic()
        with pytest.raises(requests.ConnectionError):
            http.get(f"{srv.base_url}/api/v4/packages/", timeout=5)
        assert 0.2 <= time.monotonic() - started < 2
        srv.set_rate_faults("timeout=1,timeout_s=5")
        with pytest.raises(requests.ReadTimeout):
            http.get(f"{srv.base_url}/api/v4/packages/", timeout=0.2)
        stopping = time.monotonic()
    # The held request lets go when the server stops.
    assert time.monotonic() - stopping < 1.5


def test_truncate_sends_half_the_promised_body() -> None:
    with ReplayServer(TINY, faults="truncate=1") as srv:
        port = int(srv.base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET /api/v4/packages/7001/ HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        srv.set_rate_faults(None)
        whole = requests.get(f"{srv.base_url}/api/v4/packages/7001/").content
    head, _, body = received.partition(b"\r\n\r\n")
    promised = re.search(rb"\r\nContent-Length: (\d+)(?:\r\n|$)", head)
    assert head.startswith(b"HTTP/1.1 200") and promised is not None
    assert int(promised.group(1)) == len(whole) and body == whole[: len(whole) // 2]


def test_html_is_a_200_page_for_people(http: requests.Session) -> None:
    with ReplayServer(TINY, faults="html=1") as srv:
        answer = http.get(f"{srv.base_url}/pypi/django-alpha/json")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"maintenance" in answer.content and int(answer.headers["Content-Length"]) == len(answer.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def kinds_of(srv: ReplayServer, http: requests.Session) -> list[str]:
    return [outcome(http, srv.base_url + path).split(":")[0] for path in PATHS]


def test_a_rate_for_one_source_overrides_the_general_rate_there(http: requests.Session) -> None:
    with ReplayServer(TINY, faults="pypi:5xx=1,github:html=1") as srv:
        assert kinds_of(srv, http) == ["ok", "5xx", "html", "html"]
        srv.set_rate_faults("5xx=1,pypi:5xx=0,github:5xx=0,github:stats202=1")
        assert kinds_of(srv, http) == ["5xx", "ok", "ok", "stats202"]
        # Paths outside the three services draw the general rates too; the admin endpoints never do.
        assert outcome(http, f"{srv.base_url}/nothing").startswith("5xx:")
        assert http.get(f"{srv.base_url}/_replay/stats").json()["rates"]["requests"] == 5


def test_count_rules_come_first_and_draw_no_rate_fault(http: requests.Session) -> None:
    with ReplayServer(TINY, faults="5xx=1") as srv:
        srv.set_faults([{"path": "^/pypi/", "status": 429, "times": 2, "retry_after": 3}])
        statuses = [http.get(f"{srv.base_url}/pypi/django-alpha/json").status_code for _ in range(3)]
        assert statuses[:2] == [429, 429] and statuses[2] in (500, 502, 503)
        assert srv.rate_faults()["requests"] == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("5xx", "'5xx': expected [SOURCE:]KIND=RATE"),
        ("=0.1", "'=0.1': expected"),
        ("5xx=", "'5xx=': the rate must be a number from 0 to 1"),
        ("5xx=abc", "'5xx=abc': the rate must be"),
        ("5xx=1.5", "'5xx=1.5': the rate must be"),
        ("5xx=-0.1", "'5xx=-0.1': the rate must be"),
        ("5xx=nan", "'5xx=nan': the rate must be"),
        (
            "html=0.1,boom=0.1",
            "'boom=0.1': unknown kind 'boom'; known: 5xx, timeout, truncate, html, stats202",
        ),
        ("npm:5xx=0.1", "'npm:5xx=0.1': unknown source 'npm'; known: djangopackages, github, pypi"),
        ("pypi:stats202=0.1", "'pypi:stats202=0.1': stats202 is a GitHub answer"),
        ("5xx=0.1,5xx=0.2", "'5xx=0.2': 5xx is given twice"),
        ("timeout_s=-1", "'timeout_s=-1': timeout_s must be a number of seconds from 0 to 3600"),
        ("timeout_s=inf", "'timeout_s=inf': timeout_s must be"),
        ("timeout_s=1,timeout_s=2", "'timeout_s=2': timeout_s is given twice"),
        ("pypi:timeout_s=1", "'pypi:timeout_s=1': timeout_s applies to every source"),
        ("5xx=0.1,,html=0.1", "an empty item"),
        ("5xx=0.1,", "an empty item"),
        ("5xx=0.6,html=0.5", "the rates for djangopackages add up to 1.1 (5xx=0.6, html=0.5)"),
        ("github:5xx=0.5,stats202=0.6", "the rates for github add up to 1.1 (5xx=0.5, stats202=0.6)"),
    ],
)
def test_bad_specs_are_refused_naming_the_bad_part(http: requests.Session, spec: str, message: str) -> None:
    from pipelines.cli import app  # here: the rest of the CLI is not the replay server's

    with pytest.raises(ValueError, match=re.escape(message)):
        ReplayServer(TINY, faults=spec)
    with ReplayServer(TINY, faults="pypi:5xx=1") as srv:
        refused = http.post(f"{srv.base_url}/_replay/faults", json={"rates": spec})
        assert refused.status_code == 400 and message in refused.json()["detail"]
        assert srv.rate_faults()["spec"] == "pypi:5xx=1"  # the running spec stays
    result = CliRunner().invoke(app, ["replay", "serve", "--bundle", str(TINY), "--faults", spec])
    assert result.exit_code == 2 and "--faults" in result.output


def test_rates_through_the_admin_endpoint(http: requests.Session) -> None:
    with ReplayServer(TINY) as srv:
        base = f"{srv.base_url}/_replay/faults"
        set_ = http.post(base, json={"rates": "pypi:5xx=1,timeout_s=9", "seed": 3}).json()["rates"]
        assert set_ == {
            "spec": "pypi:5xx=1,timeout_s=9",
            "seed": 3,
            "timeout_s": 9.0,
            "requests": 0,
            "fired": {"5xx": 0, "timeout": 0, "truncate": 0, "html": 0, "stats202": 0},
        }
        assert http.get(f"{srv.base_url}/pypi/django-alpha/json").status_code in (500, 502, 503)
        assert http.get(base).json()["rates"]["fired"]["5xx"] == 1
        # Without a seed the seed stays; null clears the rates.
        assert http.post(base, json={"rates": "html=0.5"}).json()["rates"]["seed"] == 3
        assert http.post(base, json={"rates": None}).json()["rates"]["spec"] == ""
        assert http.get(f"{srv.base_url}/pypi/django-alpha/json").status_code == 200
        for wrong in (
            {"rates": "5xx=0.1", "extra": 1},
            {"seed": 3},
            {"rates": "5xx=0.1", "seed": "7"},
            "5xx",
        ):
            assert http.post(base, json=wrong).status_code == 400, wrong
        # A list still sets the count rules, as before.
        assert http.post(base, json=[{"path": "x", "status": 500}]).json()["faults"][0]["left"] == 1


def test_dpw_replay_serve_takes_faults_and_a_seed() -> None:
    code = "import sys; from pipelines.cli import app; app(sys.argv[1:], prog_name='dpw')"
    args = ["replay", "serve", "--bundle", str(TINY), "--port", "0", "--faults", "pypi:5xx=1", "--seed", "7"]
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(
            r"Replay server listening on (http://127\.0\.0\.1:\d+) "
            r"\(date 2026-03-02, faults pypi:5xx=1 seed 7\)\n",
            line,
        )
        assert match, line
        assert requests.get(f"{match.group(1)}/pypi/django-alpha/json").status_code in (500, 502, 503)
        assert requests.get(f"{match.group(1)}/api/v4/packages/").status_code == 200
        stats = requests.get(f"{match.group(1)}/_replay/stats").json()["rates"]
        assert stats["seed"] == 7 and stats["fired"]["5xx"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
