from datetime import date

import polars as pl
import pytest

from warehouse.guards import (
    GUARD_NAMES,
    PACKAGES,
    DayFacts,
    GuardResult,
    Thresholds,
    day_facts,
    evaluate,
    keep_raw_facts,
    raw_facts,
    stored_raw_facts,
)
from warehouse.raw import RAW_SCHEMA, raw_frame
from warehouse.store import Warehouse

D1, D2 = date(2026, 2, 17), date(2026, 2, 18)
DEFAULTS = Thresholds()
PACKAGE = {
    "id": 1,
    "title": "Django Foo",
    "slug": "django-foo",
    "category": "https://djangopackages.org/api/v4/categories/1/",
    "grids": [],
    "repo_url": "https://github.com/foo/django-foo",
    "repo_description": "Foo for Django",
    "repo_watchers": 10,
    "repo_forks": 2,
    "pypi_version": "1.0",
    "pypi_url": "https://pypi.example/project/django-foo/",
    "documentation_url": None,
    "participants": "alice",
    "commits_over_52": [],
    "last_updated": None,
    "last_fetched": "2026-02-16T10:00:00-05:00",
    "created": "2020-01-01T00:00:00-05:00",
    "modified": "2026-02-16T10:00:00-05:00",
    "_source": "provenance, never an API field",
}
CATEGORY = {
    "id": 1,
    "title": "App",
    "slug": "apps",
    "title_plural": "Apps",
    "description": "",
    "show_pypi": True,
}
GRID = {"id": 1, "title": "Forms", "slug": "forms", "is_locked": False, "header": False, "packages": []}
REJECTED_SCHEMA = {
    "snapshot_date": pl.Date,
    "source": pl.String,
    "record_key": pl.String,
    "fields": pl.List(pl.String),
    "reasons": pl.String,
    "payload": pl.String,
}


@pytest.fixture
def wh(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as warehouse:
        yield warehouse


def _page(name, count, status="ok", error=None, offset=0):
    path = f"/api/v4/{name}/?limit=1000&offset={offset}"
    return path, status, {"list": name, "count": count, "results": [], "error": error}


def _store(wh, day, *, packages=100, package=None, pages=None, rejected=(), records=(), github="ok"):
    """A captured day: ``packages`` copies of ``package`` (ids 0..n-1), one category, one grid, 20 GitHub
    repositories answered with ``github`` status, pages whose counts match unless ``pages`` is given;
    ``rejected`` holds (source, reasons); ``records`` are extra (source, payload text) raw rows."""
    record = package or PACKAGE
    pages = (
        pages
        if pages is not None
        else [_page("packages", packages), _page("categories", 1), _page("grids", 1)]
    )
    raw = pl.concat(
        [
            raw_frame(
                day, "djangopackages/packages", ((str(i), "ok", {**record, "id": i}) for i in range(packages))
            ),
            raw_frame(day, "djangopackages/categories", [("1", "ok", CATEGORY)]),
            raw_frame(day, "djangopackages/grids", [("1", "ok", GRID)]),
            raw_frame(day, "github/repository", ((f"foo/r{i}", github, {"id": i}) for i in range(20))),
            raw_frame(day, "djangopackages/pages", pages),
            pl.DataFrame(
                [
                    {"snapshot_date": day, "source": s, "record_key": "x", "status": "ok", "payload": p}
                    for s, p in records
                ],
                schema=RAW_SCHEMA,
            ),
        ]
    )
    rejects = pl.DataFrame(
        [
            {
                "snapshot_date": day,
                "source": s,
                "record_key": str(i),
                "fields": [],
                "reasons": r,
                "payload": "{}",
            }
            for i, (s, r) in enumerate(rejected)
        ],
        schema=REJECTED_SCHEMA,
    )
    wh.replace_partitions(day, {"raw_records": raw, "rejected_records": rejects})
    return day_facts(wh, day)


def _guard(results: list[GuardResult], name: str) -> GuardResult:
    return next(r for r in results if r.name == name)


def _judge(wh, name, today, previous=None, thresholds=DEFAULTS):
    before = None if previous is None else _store(wh, D1, **previous)
    return _guard(evaluate(_store(wh, D2, **today), before, thresholds), name)


def test_day_facts_reads_counts_pages_and_fields(wh):
    facts = _store(
        wh,
        D1,
        packages=3,
        pages=[
            _page("packages", 2),
            _page("packages", 3, offset=1000),
            _page("grids", 9, status="invalid", error="text/html answer"),
        ],
        rejected=[("github/repository", "stars: not an integer (many); forks: missing")],
        records=[
            ("djangopackages/packages", "not json"),
            ("djangopackages/packages", "[1, 2]"),
            # A key given twice is filled when either copy has a value.
            ("djangopackages/packages", '{"documentation_url": "https://x.org", "documentation_url": null}'),
        ],
    )
    assert facts == DayFacts(
        day=D1,
        fetched={
            "djangopackages/packages": 6,
            "djangopackages/categories": 1,
            "djangopackages/grids": 1,
            "github/repository": 20,
        },
        usable={
            "djangopackages/packages": 6,
            "djangopackages/categories": 1,
            "djangopackages/grids": 1,
            "github/repository": 20,
        },
        rejected={"github/repository": 1},
        top_reasons={"github/repository": "forks: missing"},
        reported={"packages": 3},
        invalid_pages={"/api/v4/grids/?limit=1000&offset=0": "text/html answer"},
        keys={
            "djangopackages/packages": frozenset(k for k in PACKAGE if not k.startswith("_")),
            "djangopackages/categories": frozenset(CATEGORY),
            "djangopackages/grids": frozenset(GRID),
        },
        filled={
            "djangopackages/packages": frozenset(PACKAGE) - {"last_updated", "_source"},
            "djangopackages/categories": frozenset(CATEGORY),
            "djangopackages/grids": frozenset(GRID),
        },
    )


def test_day_facts_reads_keys_of_any_spelling(wh):
    odd = '{"": 1, "a.b": null, "\\"q": 2, "x y": [null], "$": null, "*": 0, "\\u00e9": "e"}'
    facts = _store(wh, D1, packages=0, records=[("djangopackages/packages", odd)])
    assert facts.keys["djangopackages/packages"] == {"", "a.b", '"q', "x y", "$", "*", "\u00e9"}
    assert facts.filled["djangopackages/packages"] == {"", '"q', "x y", "*", "\u00e9"}


def test_a_good_first_day_passes_every_guard_with_nothing_to_compare(wh):
    results = evaluate(_store(wh, D1), None, Thresholds())
    assert [r.name for r in results] == list(GUARD_NAMES)
    assert {r.level for r in results} == {"ok"}
    for name in ("packages_vanished", "field_vanished"):
        result = _guard(results, name)
        assert result.value is None and "first stored day" in result.message


def test_a_good_second_day_passes_every_guard(wh):
    results = evaluate(_store(wh, D2), _store(wh, D1), Thresholds())
    assert [(r.name, r.level, r.value) for r in results] == [
        ("packages_vanished", "ok", 0.0),
        ("source_vanished", "ok", 0.0),
        ("count_mismatch", "ok", 0.0),
        ("reject_share", "ok", 0.0),
        ("field_vanished", "ok", 0.0),
        ("invalid_page", "ok", 0.0),
        ("unknown_fields", "ok", 0.0),
    ]
    assert all("\n" not in r.message for r in results)


@pytest.mark.parametrize(
    ("today", "level", "value"),
    [
        (120, "ok", 0.0),
        (90, "ok", 0.1),
        (89, "warn", 0.11),
        (70, "warn", 0.3),
        (69, "fail", 0.31),
        (40, "fail", 0.6),
    ],
)
def test_packages_vanished(wh, today, level, value):
    result = _judge(wh, "packages_vanished", {"packages": today}, {"packages": 100})
    assert (result.level, result.value) == (level, value)
    assert "djangopackages/packages" in result.message
    assert f"{today:,} records on {D2}, 100 on {D1}" in result.message


def test_packages_vanished_after_a_day_without_packages_has_nothing_to_compare(wh):
    result = _judge(wh, "packages_vanished", {}, {"packages": 0})
    assert (result.level, result.value) == ("ok", None)


@pytest.mark.parametrize(
    ("reported", "level", "value"),
    [
        (100, "ok", 0.0),
        (101, "warn", 1 / 101),
        (102, "warn", 2 / 102),
        (103, "fail", 3 / 103),
        (97, "fail", 3 / 97),
    ],
)
def test_count_mismatch(wh, reported, level, value):
    # The count may grow during a crawl: the largest a page reported is the one to reach.
    pages = [_page("packages", 50), _page("packages", reported, offset=1000), _page("grids", 1)]
    result = _judge(wh, "count_mismatch", {"packages": 100, "pages": pages})
    assert (result.level, result.value) == (level, value)
    if level == "ok":
        assert result.message.startswith("records fetched match the API's count: packages 100, grids 1")
    else:
        assert result.message.startswith(f"packages list: 100 records fetched, the API reported {reported},")
    assert "no page of categories reported a count" in result.message


def test_count_mismatch_names_every_list_that_differs_worst_first(wh):
    pages = [_page("packages", 101), _page("categories", 2), _page("grids", 1)]
    result = _judge(wh, "count_mismatch", {"packages": 100, "pages": pages})
    assert (result.level, result.value) == ("fail", 0.5)
    assert result.message.index("categories list: 1 records fetched") < result.message.index(
        "packages list: 100"
    )


def test_count_mismatch_without_any_reported_count_is_ok(wh):
    result = _judge(wh, "count_mismatch", {"pages": []})
    assert (result.level, result.value) == ("ok", None)
    assert "no list page reported a count" in result.message


@pytest.mark.parametrize(
    ("stars", "ids", "level"), [(0, 0, "ok"), (1, 0, "ok"), (2, 1, "warn"), (3, 1, "warn"), (4, 1, "fail")]
)
def test_reject_share(wh, stars, ids, level):
    rejected = [("github/repository", "stars: not an integer (many)")] * stars
    rejected += [("github/repository", "id: missing")] * ids
    result = _judge(wh, "reject_share", {"rejected": rejected})
    assert (result.level, result.value) == (level, (stars + ids) / 20)
    if stars:
        assert f"github/repository: {stars + ids} of 20 rejected" in result.message
        assert 'most often "stars: not an integer"' in result.message


def test_reject_share_names_the_worst_source_first(wh):
    rejected = [("djangopackages/categories", "slug: missing")] + [("github/repository", "id: missing")] * 2
    result = _judge(wh, "reject_share", {"rejected": rejected})
    assert (result.level, result.value) == ("warn", 1.0)  # one category of one: too few to refuse a day
    assert result.message.startswith(
        'djangopackages/categories: 1 of 1 rejected (100.0%), most often "slug: missing"'
    )
    assert "github/repository: 2 of 20 rejected (10.0%)" in result.message


@pytest.mark.parametrize(
    ("today", "level", "value"),
    [
        ({}, "ok", 0.0),
        ({"repo_description": None}, "fail", 1.0),
        ({"repo_description": None, "pypi_version": None}, "fail", 2.0),
        ({"last_updated": None}, "ok", 0.0),  # null on both days: it had no value to lose
    ],
)
def test_field_vanished(wh, today, level, value):
    result = _judge(wh, "field_vanished", {"package": {**PACKAGE, **today}}, {})
    assert (result.level, result.value) == (level, value)
    if level == "fail":
        assert result.message.startswith("djangopackages/packages: ")
        assert all(f'"{field}"' in result.message for field in today)


def test_field_vanished_when_the_key_is_gone_and_one_record_keeps_it(wh):
    gone = {k: v for k, v in PACKAGE.items() if k != "repo_description"}
    result = _judge(wh, "field_vanished", {"package": gone}, {})
    assert (result.level, result.value) == ("fail", 1.0)
    kept = [("djangopackages/packages", '{"id": 7, "repo_description": "still here"}')]
    result = _judge(wh, "field_vanished", {"package": gone, "records": kept}, {})
    assert (result.level, result.value) == ("ok", 0.0)


def test_invalid_page(wh):
    pages = [
        _page("packages", 100),
        _page("packages", None, status="invalid", error="not JSON: text/html", offset=1000),
        _page("grids", None, status="invalid", error=None),
    ]
    result = _judge(wh, "invalid_page", {"pages": pages})
    assert (result.level, result.value) == ("fail", 2.0)
    assert result.message.endswith(
        '"/api/v4/grids/?limit=1000&offset=0" ("status invalid"), '
        '"/api/v4/packages/?limit=1000&offset=1000" ("not JSON: text/html")'
    )


def test_unknown_fields(wh):
    package = {**PACKAGE, "license": "MIT", "_truncated": True, "bad\nkey": None}
    result = _judge(wh, "unknown_fields", {"package": package})
    assert (result.level, result.value) == ("warn", 2.0)
    assert 'djangopackages/packages: "bad\\nkey", "license"' in result.message
    assert "\n" not in result.message


@pytest.mark.parametrize(
    "settings",
    [{"vanish_warn": 1.5}, {"count_fail": -0.1}, {"reject_warn": float("nan")}, {"vanish_warn": 0.4}],
)
def test_thresholds_must_be_ordered_shares(settings):
    with pytest.raises(ValueError, match=next(iter(settings))):
        Thresholds(**settings)


def test_thresholds_decide_the_levels(wh):
    strict = Thresholds(vanish_warn=0.0, vanish_fail=0.05)
    result = _judge(wh, "packages_vanished", {"packages": 94}, {"packages": 100}, strict)
    assert (result.level, result.value) == ("fail", 0.06)


def test_a_source_that_answered_yesterday_and_not_at_all_today_fails(wh):
    result = _judge(wh, "source_vanished", today={"github": "failed"}, previous={})
    assert (result.level, result.value) == ("fail", 1.0)
    assert "github/repository: no usable answer" in result.message and "20 asked" in result.message


@pytest.mark.parametrize("skipped", ["github/skipped", "pypi/skipped"])
def test_a_source_skipped_on_purpose_has_not_vanished_but_another_silent_one_has(wh, skipped):
    # No GitHub token: raw_github stores one github/skipped row and no repository at all.
    reason = '{"reason": "GITHUB_TOKEN is not set"}'
    result = _judge(
        wh, "source_vanished", today={"github": "failed", "records": [(skipped, reason)]}, previous={}
    )
    if skipped == "github/skipped":
        assert (result.level, result.value) == ("ok", 0.0)
        assert result.message.endswith(f"skipped on purpose on {D2}: github/repository")
    else:
        # Skipping PyPI excuses nothing about GitHub.
        assert (result.level, result.value) == ("fail", 1.0)
        assert "github/repository: no usable answer" in result.message


def test_a_source_with_some_answers_today_passes(wh):
    # One failed answer among many is that repository's failure, not the day's.
    result = _judge(wh, "source_vanished", today={}, previous={"github": "failed"})
    assert result.level == "ok"


def test_a_bad_record_among_a_handful_warns_instead_of_refusing_the_day(wh):
    # One category in four rejected is 25%, over the fail threshold, but four records are too few to judge.
    result = _judge(wh, "reject_share", today={"rejected": [("djangopackages/categories", "id: missing")]})
    assert (result.level, result.value) == ("warn", 1.0)
    assert "djangopackages/categories: 1 of 1 rejected" in result.message


def test_a_day_without_a_single_package_fails_even_with_nothing_to_compare(wh):
    result = _guard(evaluate(_store(wh, D1, packages=0), None, Thresholds()), "packages_vanished")
    assert (result.level, result.value) == ("fail", 1.0)
    assert result.message == f"djangopackages/packages: no record on {D1}"


def test_raw_facts_are_kept_and_read_back_only_while_the_raw_is_the_one_they_were_read_from(wh):
    odd = {**PACKAGE, "naïve ключ": 1}
    _store(
        wh,
        D1,
        packages=30,
        package=odd,
        pages=[_page("packages", 31), _page("grids", 1, status="invalid", error="an HTML page")],
        records=[("github/skipped", '{"why": "no token"}')],
    )
    read = raw_facts(wh, D1)
    assert read.fetched[PACKAGES] == 30 and "naïve ключ" in read.keys[PACKAGES]
    assert read.skipped == {"github"} and read.reported == {"packages": 31} and len(read.invalid_pages) == 1
    assert stored_raw_facts(wh, D1) is None  # none kept yet
    assert keep_raw_facts(wh, D1, read)
    assert stored_raw_facts(wh, D1) == read
    assert day_facts(wh, D1, stored_raw_facts(wh, D1)) == day_facts(wh, D1)

    # Facts of another definition are read again.
    wh.conn.execute("UPDATE raw_facts SET version = version + 1")
    assert stored_raw_facts(wh, D1) is None
    assert keep_raw_facts(wh, D1, read) and stored_raw_facts(wh, D1) == read

    # The date's raw replaced by other means than a publication: the kept facts are no longer its, and
    # facts read from the old raw are not kept over the new one.
    _store(wh, D1, packages=29, package=odd)
    assert stored_raw_facts(wh, D1) is None
    assert not keep_raw_facts(wh, D1, read)
    assert wh.row("SELECT fingerprint FROM raw_facts WHERE snapshot_date = ?", [D1]) == (read.fingerprint,)
    again = raw_facts(wh, D1)
    assert again.fetched[PACKAGES] == 29 and again.fingerprint != read.fingerprint
    assert keep_raw_facts(wh, D1, again) and stored_raw_facts(wh, D1) == again
    assert wh.row("SELECT count(*) FROM raw_facts") == (1,)
