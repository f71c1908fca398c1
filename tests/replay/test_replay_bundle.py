"""Bundles, evolution and synthetic data, without HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from replay.bundle import SAMPLE_BUNDLE, BundleError, BundleWarning, load_bundle
from replay.evolve import evolve, profile
from replay.synthetic import synthetic_bundle
from warehouse.identifiers import github_repository, normalize_name, pypi_project_name

TINY = Path(__file__).parent / "tiny_bundle"


def test_sample_keeps_the_newest_snapshot_and_derives_missing_groups() -> None:
    bundle = load_bundle(SAMPLE_BUNDLE)
    ids = [r["id"] for r in bundle.packages]
    assert len(ids) == len(set(ids)) == 240
    valkey = next(r for r in bundle.packages if r["id"] == 5963)
    assert valkey["last_fetched"].startswith("2026-05-26")
    assert not any(k.startswith("_") for r in bundle.packages for k in r)
    # The newest last_fetched is 2026-05-26T23:04:54-04:00, i.e. 2026-05-27 UTC.
    assert bundle.as_of == date(2026, 5, 28)
    assert {c["id"] for c in bundle.categories} == {1, 2, 3, 4}
    app_category = next(c for c in bundle.categories if c["id"] == 1)
    assert app_category["created"] == "2010-08-14T22:47:52"  # the shipped record wins over a derived one
    grids = {g["id"]: g for g in bundle.grids}
    assert 438 in grids and len(grids) == 121
    assert grids[31]["packages"] == ["https://djangopackages.org/api/v4/packages/6278/"]
    assert set(grids[31]) == {
        "id", "title", "slug", "description", "is_locked", "packages", "header", "created", "modified",
    }  # fmt: skip


def test_bundle_json_sets_the_as_of_date(tmp_path: Path) -> None:
    (tmp_path / "packages.jsonl").write_text((TINY / "packages.jsonl").read_text())
    assert load_bundle(tmp_path).as_of == date(2026, 3, 2)
    (tmp_path / "bundle.json").write_text(json.dumps({"as_of": "2026-04-01"}))
    assert load_bundle(tmp_path).as_of == date(2026, 4, 1)


def test_unusable_bundles_are_refused_with_the_place(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no packages"):
        load_bundle(tmp_path)
    (tmp_path / "packages.jsonl").write_text('{"id": 1}\n[1, 2]\n')
    with pytest.raises(BundleError, match="no package has a usable last_fetched"):
        load_bundle(tmp_path)
    (tmp_path / "packages.jsonl.gz").write_bytes(b"\x1f\x8b not gzip after all")
    with pytest.raises(BundleError, match="both packages.jsonl and packages.jsonl.gz"):
        load_bundle(tmp_path)
    (tmp_path / "packages.jsonl").unlink()
    with pytest.raises(BundleError, match=r"packages\.jsonl\.gz: unreadable"):
        load_bundle(tmp_path)


def test_any_json_value_is_a_record_and_other_lines_are_skipped_with_a_warning(tmp_path: Path) -> None:
    fetched = '{"id": 1, "last_fetched": "2026-03-01T10:00:00-05:00"}'
    (tmp_path / "packages.jsonl").write_text(f'{fetched}\n[1, 2]\n\n7\n{{"id": 2\n"\\ud800"\n')
    with pytest.warns(BundleWarning, match=r"packages\.jsonl:5: skipped, not JSON") as caught:
        bundle = load_bundle(tmp_path)
    assert len(caught) == 1
    assert bundle.packages == (json.loads(fetched), [1, 2], 7, "\ud800")
    assert bundle.as_of == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/jazzband/django-debug-toolbar", "jazzband/django-debug-toolbar"),
        ("https://github.com/acme/django-alpha.git/", "acme/django-alpha"),
        ("http://www.github.com/acme/tool/tree/main/src", "acme/tool"),
        ("https://github.com/acme", None),
        ("https://bitbucket.org/acme/tool", None),
        (None, None),
    ],
)
def test_github_names(url: str | None, expected: str | None) -> None:
    assert github_repository(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("django-alpha", "django-alpha"),
        ("http://legacy.example/pypi/django-tagging", "django-tagging"),
        ("https://index.example/project/dj_magister/", "dj_magister"),
        (
            "http://legacy.example/pypi/https://index.example/project/django-signal-notifier/",
            "django-signal-notifier",
        ),
        ("", None),
        ("https://example.com/docs/", None),
    ],
)
def test_pypi_names(url: str, expected: str | None) -> None:
    assert pypi_project_name(url) == expected


def test_project_key_is_pep_503() -> None:
    assert normalize_name("Django_Beta") == "django-beta"
    assert normalize_name("zope.interface") == "zope-interface"


def test_evolution_is_a_pure_function_of_package_and_date() -> None:
    bundle = load_bundle(SAMPLE_BUNDLE)
    later = bundle.as_of + timedelta(days=9)
    for record in bundle.packages:
        prof = profile(record, bundle.as_of)
        first, second = evolve(record, prof, bundle.as_of, later), evolve(record, prof, bundle.as_of, later)
        assert first == second
        assert evolve(record, prof, bundle.as_of, bundle.as_of).record is record


def test_synthetic_bundles_look_like_the_sample() -> None:
    bundle = synthetic_bundle(2000, seed=7)
    records = bundle.packages
    assert len({r["id"] for r in records}) == len({r["slug"] for r in records}) == 2000
    zero = sum(1 for r in records if r["commits_over_52"] and not any(r["commits_over_52"]))
    assert 0.7 < zero / 2000 < 0.9
    assert any(r["commits_over_52"] == [] for r in records)
    assert any(r["last_updated"] is None for r in records)
    assert any(r["pypi_url"] == "" for r in records)
    assert any("/pypi/" in r["pypi_url"] for r in records) and any(
        "/project/" in r["pypi_url"] for r in records
    )
    hosts = [r["repo_url"].split("/")[2] for r in records]
    assert hosts.count("github.com") > 0.8 * 2000 and "bitbucket.org" in hosts and "gitlab.com" in hosts
    assert {c["id"] for c in bundle.categories} == {1, 2, 3, 4}
    assert all(1 <= g["id"] <= 150 for g in bundle.grids)
    assert synthetic_bundle(300, seed=7).packages == synthetic_bundle(300, seed=7).packages
    assert synthetic_bundle(300, seed=7).packages != synthetic_bundle(300, seed=8).packages
