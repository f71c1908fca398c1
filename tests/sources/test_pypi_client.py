from __future__ import annotations

import pytest

from assets.sources.pypi import PyPIClient
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

    documents = PyPIClient(harness.client(), concurrency=4).projects(names)

    assert list(documents) == names
    assert documents["PKG_3"] == documents["pkg-3"] == {"info": {"name": "pkg-3"}}
    assert documents["missing"] is None
    assert len(server.seen()) == 13 and harness.log.count() == 13
