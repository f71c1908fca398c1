from __future__ import annotations

import pytest

from assets.sources.http import SourceError
from assets.sources.pypi import ProjectResult, PyPIClient
from tests.sources.fake_http import FakeServer, Harness, Reply
from warehouse.identifiers import normalize_name, pypi_project_name


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("django-foo", "django-foo"),
        ("  Django_Foo.Bar ", "Django_Foo.Bar"),
        ("http://index.example/pypi/sitemap_cfg", "sitemap_cfg"),
        ("http://index.example/pypi/django-foo/1.2.3", "django-foo"),
        ("https://index.example/pypi/django-foo/json", "django-foo"),
        ("https://index.example/project/django-foo/", "django-foo"),
        ("https://index.example/project/django-foo", "django-foo"),
        ("https://index.example/project/django-foo/#history", "django-foo"),
        ("https://index.example/project/django-foo/?utm_source=x", "django-foo"),
        ("https://index.example/project/django-foo/2.0/", "django-foo"),
        (
            "http://old-index.example/pypi/https://index.example/project/django-signal-notifier/",
            "django-signal-notifier",
        ),
        ("index.example/project/DjangoBan", "DjangoBan"),
        ("https://index.example/project/django%2Dfoo/", "django-foo"),
        ("https://index.example/project/", None),
        ("https://index.example/pypi", None),
        ("https://index.example/simple/django-foo/", None),
        ("https://docs.example/django-foo/", None),
        ("https://index.example/project/-bad-/", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_pypi_project_name(url: str | None, name: str | None) -> None:
    assert pypi_project_name(url) == name


@pytest.mark.parametrize(
    ("name", "normalized"),
    [("Django_Foo", "django-foo"), ("zope.interface", "zope-interface"), ("a-_.-b", "a-b"), ("ok", "ok")],
)
def test_normalize_name(name: str, normalized: str) -> None:
    assert normalize_name(name) == normalized


def test_project_requests_the_normalized_name(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/pypi/django-foo/json", Reply(200, {"info": {"name": "Django_Foo"}, "last_serial": 7}))
    client = PyPIClient(harness.client(source="pypi"))
    assert client.project("Django_Foo") == {"info": {"name": "Django_Foo"}, "last_serial": 7}
    assert client.project("never-published") is None
    assert [s.path for s in server.seen()] == ["/pypi/django-foo/json", "/pypi/never-published/json"]


def test_project_follows_one_301_on_the_configured_host(
    harness: Harness, server: FakeServer, make_server
) -> None:
    elsewhere = make_server()
    # An index that canonicalizes differently from PEP 503 answers the normalized name with a 301.
    server.on(
        "GET",
        "/pypi/zope-interface/json",
        Reply(301, b"", {"Location": f"{elsewhere.base_url}/pypi/zope.interface/json"}),
    )
    server.on("GET", "/pypi/zope.interface/json", Reply(200, {"info": {"name": "zope.interface"}}))

    assert PyPIClient(harness.client()).project("zope.interface") == {"info": {"name": "zope.interface"}}
    assert [s.path for s in server.seen()] == ["/pypi/zope-interface/json", "/pypi/zope.interface/json"]
    assert elsewhere.requests == []


def test_projects_fetches_each_project_once(harness: Harness, server: FakeServer) -> None:
    for i in range(12):
        server.on("GET", f"/pypi/pkg-{i}/json", Reply(200, {"info": {"name": f"pkg-{i}"}}))
    names = [f"pkg-{i}" for i in range(12)] + ["PKG_3", "missing"]

    results = PyPIClient(harness.client(), concurrency=4).projects(names)

    assert list(results) == names
    assert results["PKG_3"] == results["pkg-3"] == ProjectResult("ok", {"info": {"name": "pkg-3"}})
    assert results["missing"] == ProjectResult("missing", None)
    assert len(server.seen()) == 13 and harness.log.count() == 13


def test_one_failing_project_never_costs_the_others(harness: Harness, server: FakeServer) -> None:
    html = b"<html><body>Service Unavailable</body></html>"
    server.on("GET", "/pypi/good/json", Reply(200, {"info": {"name": "good"}}))
    server.on("GET", "/pypi/down/json", Reply(503, html, {"Content-Type": "text/html"}))
    server.on("GET", "/pypi/html/json", Reply(200, html, {"Content-Type": "text/html"}))
    server.on("GET", "/pypi/a-list/json", Reply(200, ["not", "a", "document"]))
    server.on("GET", "/pypi/huge/json", Reply(200, {"info": {"description": "x" * 5000}}))
    server.on("GET", "/pypi/slow/json", Reply(200, {}, delay=0.5))
    server.on("GET", "/pypi/loop/json", Reply(301, b"", {"Location": "/pypi/loop-2/json"}))
    server.on("GET", "/pypi/loop-2/json", Reply(301, b"", {"Location": "/pypi/loop/json"}))
    server.on("GET", "/pypi/nowhere/json", Reply(301, b""))
    names = ["good", "down", "html", "a-list", "huge", "slow", "loop", "nowhere", "gone"]
    client = PyPIClient(
        harness.client(source="pypi", max_attempts=2, max_body_bytes=4000, timeout=0.2), concurrency=3
    )

    results = client.projects(names)

    assert {name: r.status for name, r in results.items()} == {
        "good": "ok",
        "down": "failed",
        "html": "failed",
        "a-list": "failed",
        "huge": "failed",
        "slow": "failed",
        "loop": "failed",
        "nowhere": "failed",
        "gone": "missing",
    }
    assert results["good"] == ProjectResult("ok", {"info": {"name": "good"}})
    assert all(r.doc is None for n, r in results.items() if n != "good")
    errors = {name: r.error or "" for name, r in results.items()}
    assert errors["down"].startswith("pypi: GET /pypi/down/json failed (status 503, 2 attempts): HTTP 503")
    assert "HTTP 200 (text/html) is not JSON" in errors["html"]
    assert 'is not the expected document: ["not", "a", "document"]' in errors["a-list"]
    assert "larger than the cap of 4,000 bytes" in errors["huge"]
    assert "failed (2 attempts): ReadTimeout" in errors["slow"]
    assert errors["loop"] == (
        "pypi: GET /pypi/loop-2/json failed (status 301, 1 attempt): unexpected HTTP 301 (no content type): "
        "(empty body)"
    )
    assert "301 without a Location header" in errors["nowhere"]
    assert results["gone"].error is None and results["good"].error is None
    # One record per call: nine projects, plus the one redirect followed.
    assert harness.log.count("pypi") == 10
    failed = {r.path: (r.status, r.attempts) for r in harness.log.failed()}
    assert failed == {
        "/pypi/down/json": (503, 2),
        "/pypi/html/json": (200, 2),
        "/pypi/a-list/json": (200, 2),
        "/pypi/huge/json": (200, 1),
        "/pypi/slow/json": (None, 2),
        "/pypi/loop-2/json": (301, 1),
    }


def test_ctrl_c_while_fetching_projects_propagates(harness: Harness, server: FakeServer) -> None:
    client = PyPIClient(harness.client(), concurrency=2)
    fetched: list[str] = []

    def interrupted(name: str) -> dict | None:
        fetched.append(name)
        if name == "pkg-1":
            raise KeyboardInterrupt
        return None

    client.project = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        client.projects([f"pkg-{i}" for i in range(50)])
    assert len(fetched) < 50


def test_serials_reads_an_index_larger_than_the_per_response_cap(
    harness: Harness, server: FakeServer
) -> None:
    projects = [{"name": f"Pkg_{i}", "_last-serial": i} for i in range(200)]
    projects += [{"name": "odd", "_last-serial": True}, {"name": 7, "_last-serial": 1}, "junk"]
    server.on("GET", "/simple/", Reply(200, {"meta": {"api-version": "1.1"}, "projects": projects}))
    client = PyPIClient(harness.client(max_body_bytes=1000))

    serials = client.serials()

    assert len(serials) == 200 and serials["pkg-7"] == 7
    assert server.seen()[0].headers["accept"] == "application/vnd.pypi.simple.v1+json"


def test_serials_from_an_index_that_is_not_one_fail(harness: Harness, server: FakeServer) -> None:
    server.on("GET", "/simple/", Reply(200, {"projects": "everything"}))
    with pytest.raises(SourceError, match="is not the expected document"):
        PyPIClient(harness.client(max_attempts=1)).serials()
