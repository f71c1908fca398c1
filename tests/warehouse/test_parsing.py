import gc
import random
import threading
from datetime import UTC, date, datetime

import polars as pl
import pytest

from tests.conftest import sample_packages
from warehouse import parsing
from warehouse.parsing import gc_paused, grid_memberships, parse_categories, parse_packages, parse_timestamp
from warehouse.raw import raw_frame, record_key

# The sample bundle's date (the day after its newest fetch): no record of it is from the future.
DAY = date(2026, 5, 28)


def _raw(records, source="djangopackages/packages"):
    return raw_frame(DAY, source, [(record_key(r), "ok", r) for r in records])


def _one(**changes):
    record = dict(sample_packages()[0])
    record.update(changes)
    return record


def test_real_sample_parses_with_types_and_identifiers():
    records = sample_packages()
    parsed = parse_packages(_raw(records), DAY)
    assert parsed.counts == {"fetched": 240, "accepted": 240, "repaired": 0, "rejected": 0}
    row = parsed.accepted.filter(pl.col("package_id") == 6278).row(0, named=True)
    assert row["slug"] == "django-postpone-index"
    assert row["category_id"] == 1 and row["grid_ids"] == [31]
    assert row["repo_host"] == "github" and row["repo_full_name"] == "nnseva/django-postpone-index"
    assert row["pypi_name"] == "django-postpone-index"
    assert row["last_fetched_at"] == datetime(2026, 2, 16, 5, 2, 41, 505591, tzinfo=UTC)
    assert row["commits_over_52"][-3:] == [2, 8, 0] and len(row["commits_over_52"]) == 52
    hosts = dict(parsed.accepted.group_by("repo_host").len().iter_rows())
    assert hosts == {"github": 208, "bitbucket": 27, "gitlab": 1, "other": 4}
    # `[]` is unknown, never zero activity
    assert parsed.accepted.filter(pl.col("commits_over_52").is_null()).height == 4


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"id": "abc"}, "id", "id: not an integer (abc)"),
        ({"repo_watchers": "many"}, "repo_watchers", "repo_watchers: not an integer (many)"),
        ({"last_fetched": "yesterday"}, "last_fetched", "last_fetched: not an ISO-8601 time (yesterday)"),
        ({"slug": ""}, "slug", "slug: missing"),
        ({"repo_forks": -3}, "repo_forks", "repo_forks: below 0 (-3)"),
    ],
)
def test_unusable_key_fields_are_rejected_with_the_field_named(changes, field, reason):
    good = sample_packages()[1]
    parsed = parse_packages(_raw([good, _one(**changes)]), DAY)
    assert parsed.accepted.get_column("package_id").to_list() == [good["id"]]
    rejected = parsed.rejected.row(0, named=True)
    assert rejected["fields"] == [field]
    assert rejected["reasons"] == reason
    assert rejected["source"] == "djangopackages/packages"
    assert '"slug"' in rejected["payload"]  # the payload as received is kept


@pytest.mark.parametrize(
    ("weeks", "expected_tail", "expected_len", "repair"),
    [
        (list(range(51)), [48, 49, 50], 52, "received 51 entries"),
        (",".join(["1"] * 52), [1, 1, 1], 52, "as a comma-separated string"),
        ([3] * 51 + [-2], [3, 3, None], 52, "1 invalid counts"),
    ],
)
def test_odd_but_usable_weeks_are_repaired_and_flagged(weeks, expected_tail, expected_len, repair):
    parsed = parse_packages(_raw([_one(commits_over_52=weeks)]), DAY)
    row = parsed.accepted.row(0, named=True)
    assert row["commits_over_52"][-3:] == expected_tail
    assert len(row["commits_over_52"]) == expected_len
    assert parsed.repaired == 1
    assert any(repair in r for r in row["repairs"])
    if isinstance(weeks, list) and len(weeks) == 51:
        assert row["commits_over_52"][0] is None  # the missing oldest week is unknown, not zero


def test_optional_field_that_cannot_be_read_is_nulled_and_flagged():
    parsed = parse_packages(_raw([_one(last_updated="not a time", category="nonsense")]), DAY)
    row = parsed.accepted.row(0, named=True)
    assert row["last_updated_at"] is None and row["category_id"] is None
    assert sorted(r.split(":")[0] for r in row["repairs"]) == ["category", "last_updated"]


def test_duplicate_ids_keep_the_first_record():
    first, second = _one(title="first"), _one(title="second")
    parsed = parse_packages(_raw([first, second]), DAY)
    assert parsed.accepted.get_column("title").to_list() == ["first"]
    assert parsed.rejected.get_column("reasons").to_list() == ["package_id: duplicate of an earlier record"]


def test_timestamps_with_offsets_and_naive_new_york_times_become_utc():
    frame = pl.DataFrame(
        {"t": ["2026-02-16T00:02:41.5-05:00", "2010-08-14T22:47:52", "2026-02-16T05:07:12Z", "x"]}
    )
    parsed = frame.select(parse_timestamp(pl.col("t"))).get_column("t").to_list()
    assert parsed == [
        datetime(2026, 2, 16, 5, 2, 41, 500000, tzinfo=UTC),
        datetime(2010, 8, 15, 2, 47, 52, tzinfo=UTC),  # EDT, UTC-4
        datetime(2026, 2, 16, 5, 7, 12, tzinfo=UTC),
        None,
    ]


def test_a_text_is_local_time_only_without_an_offset_and_zulu_only_right_after_the_time():
    # Each text is read once as offset time ("Z" as +00:00), and as local time only if it ends without one.
    texts = [
        "2020-01-01T00:00:00.5Z",
        "2020-01-01T00:00:00 Z",  # not an offset: nothing
        "2020-01-01T00:00:00ZZ",
        "2020-01-01T00:00:00+0530",
        "2020-01-01T00:00:00 +05:00",  # chrono reads the space before an offset
        "2020-01-01T00:00:00+05:00Z",
        "2020-03-08T02:30:00",  # does not exist in New York: unknown
        "2020-11-01T01:30:00",  # exists twice: the earlier
        "2020-01-01T00:00:00.",
        "2020-01-01T00:00",
        None,
    ]
    parsed = pl.DataFrame({"t": texts}).select(parse_timestamp(pl.col("t"))).get_column("t").to_list()
    assert parsed == [
        datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
        None,
        None,
        datetime(2019, 12, 31, 18, 30, tzinfo=UTC),
        datetime(2019, 12, 31, 19, 0, tzinfo=UTC),
        None,
        None,
        datetime(2020, 11, 1, 5, 30, tzinfo=UTC),
        None,
        None,
        None,
    ]


def test_plain_utc_times_read_apart_read_as_the_general_reading_does():
    # Texts near GitHub's and PyPI's shape, each a few characters off (a digit of another script, a leap
    # second, 29 February of 2023, seven fractional digits, a lower-case z ...): the ones read apart as
    # plain UTC times must come out exactly as the general reading (offsets and local times) gives them.
    shapes = [
        "2017-11-08T02:14:58.453331Z",
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00.5Z",
        "2016-12-31T23:59:60Z",
        "2023-02-29T12:00:00Z",
        "2020-01-01T00:00:00.1234567Z",
        "2020-01-01T00:00:00+00:00",
        "2010-08-14T22:47:52",
    ]
    rng = random.Random(7)
    texts = list(shapes)
    for _ in range(20_000):
        text = list(rng.choice(shapes))
        at = rng.randrange(len(text))
        text[at : at + rng.randint(0, 1)] = rng.choice(
            ["0", "9", "5", "\u0663", "\uff12", ".", ":", "z", "Z", "+", " "]
        )
        texts.append("".join(text))
    frame = pl.DataFrame({"t": texts})
    plain = frame.get_column("t").str.contains(parsing._PLAIN_UTC)
    read = frame.select(parse_timestamp(pl.col("t"))).get_column("t")
    general = frame.select(parsing._timestamp(pl.col("t"))).get_column("t")
    # Both ways are taken (957 texts plain, 1,319 read the general way, of 20,008).
    assert plain.sum() > 500 and read.is_not_null().sum() - plain.sum() > 500
    assert read.equals(general, check_names=False)
    assert read.head(4).to_list() == [
        datetime(2017, 11, 8, 2, 14, 58, 453331, tzinfo=UTC),
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
        datetime(2017, 1, 1, tzinfo=UTC),  # chrono's leap second, read the general way
    ]


def test_categories_and_grid_memberships_from_both_sides():
    cats = parse_categories(
        _raw(
            [{"id": 1, "title": "App", "slug": "apps", "show_pypi": True}, {"id": "x"}],
            "djangopackages/categories",
        ),
        DAY,
    )
    assert cats.accepted.get_column("category_id").to_list() == [1]
    assert cats.rejected.height == 1
    packages = parse_packages(_raw([_one(grids=["https://h/api/v4/grids/5/?format=api"])]), DAY).accepted
    pid = packages.get_column("package_id")[0]
    grids = _raw(
        [
            {
                "id": 7,
                "title": "G",
                "slug": "g",
                "packages": [f"https://h/api/v4/packages/{pid}/", "https://h/api/v4/packages/424242/"],
            }
        ],
        "djangopackages/grids",
    )
    pairs = grid_memberships(packages, grids, DAY)
    # 424242 is not an accepted package, so its membership is dropped
    assert pairs.select("grid_id", "package_id").rows() == [(5, pid), (7, pid)]


@pytest.mark.parametrize(
    ("requires_python", "classifiers", "expected"),
    [
        ("<3", [], False),
        (">=2.7, <3", [], False),
        ("==2.7.*", [], False),
        ("~=2.7", [], False),
        (">=3.10", [], True),
        (">=2.7,!=3.0.*", [], True),
        ("not a spec", ["Programming Language :: Python :: 3"], True),
        ("not a spec", [], None),
        ("", ["Programming Language :: Python :: 2"], None),
        ("<3", ["Programming Language :: Python :: 3"], False),
        (None, ["Programming Language :: Python :: 2"], None),
        (None, None, None),
    ],
)
def test_python3_support_follows_djangopackages_rule(requires_python, classifiers, expected):
    from warehouse.enrichment import supports_python3

    # Among other rows, so that a verdict computed once per distinct text lands on its own row.
    frame = pl.DataFrame(
        {
            "requires_python": [">=3.8", requires_python, "<3", requires_python],
            "classifiers": [[], classifiers, None, classifiers],
        },
        schema={"requires_python": pl.String, "classifiers": pl.List(pl.String)},
    )
    verdicts = frame.select(supports_python3(pl.col("requires_python"), pl.col("classifiers"))).to_series()
    assert verdicts.to_list() == [True, expected, False, expected]


@pytest.mark.parametrize(
    "value", [None, "", ["https://github.com/a/b"], {"url": "x"}, 5, "http://[::1", "https://[x/a/b"]
)
def test_identifiers_of_anything_that_is_not_a_link_are_none(value):
    from warehouse.identifiers import github_repository, pypi_project_name

    assert github_repository(value) is None
    assert pypi_project_name(value) is None


def test_forge_paths_reads_every_url_forge_repository_reads():
    from warehouse.identifiers import forge_paths, forge_repository

    # Only URLs naming a forge's host reach Python; a host in any case, or with a character whose lower case
    # is ASCII (the Kelvin sign), must still be among them.
    urls = [
        "https://GitLab.com/group/sub/project/-/tree/main",
        "https://bitbuc\u212aet.org/workspace/repo",
        " https://www.bitbucket.org/w/r.git ",
        "https://user:secret@GITLAB.COM:443/a/b",
        "https://github.com/a/b",
        "gitlab.com/a/b",
        "https://gitlab.example.com/a/b",
        None,
    ]
    paths = pl.DataFrame({"url": urls}).select(forge_paths(pl.col("url"))).to_series().to_list()
    expected = [(found := forge_repository(u)) and f"{found[0]}:{found[1]}" for u in urls]
    assert paths == expected
    assert paths[:4] == [
        "gitlab:group/sub/project",
        "bitbucket:workspace/repo",
        "bitbucket:w/r",
        "gitlab:a/b",
    ]


def test_identifier_columns_read_every_link_as_the_functions_for_one_value_do():
    from warehouse.identifiers import (
        github_full_name,
        github_full_names,
        normalize_name,
        pypi_names,
        pypi_project_name,
    )

    # The common shapes are read in polars, the others in Python: both must give what the functions give.
    links = [
        "https://github.com/Owner/Repo",
        "https://github.com/owner/repo/",
        "http://www.github.com/a-b/c.d_e",
        "https://github.com/a/b.git",
        "https://github.com/a/b.GIT/",
        "https://github.com/orgs/x",
        "https://github.com/Topics/x",
        "https://github.com/a/.",
        "https://github.com/a/..",
        "https://github.com/-a/b",
        "https://github.com/" + "a" * 40 + "/b",
        "https://github.com/a/b/tree/main",
        "https://GitHub.com/a/b",
        "HTTPS://github.com/a/b",
        " https://github.com/a/b ",
        "git@github.com:a/b.git",
        "https://github.com:443/a/b",
        "https://gitlab.com/a/b",
        "https://index.example/project/Django_Foo.Bar/",
        "https://index.example/project/django-foo",
        "https://legacy.index.example/pypi/django-foo/1.0",
        "http://index.example/pypi/project/",
        "https://index.example/project/pypi/",
        "https://x.org/project/a%2Db/",
        "https://index.example/project/-bad-/",
        "django-bar",
        "Django__Bar..baz",
        " django-bar ",
        "https://a.b/c/d",
        "",
        None,
        # GitHub's host in capitals, in forms only Python reads: still asked of Python.
        "git@GITHUB.COM:Owner/Repo.git",
        "ssh://git@GitHub.Com:22/a/b",
    ]
    frame = pl.DataFrame({"link": links}, schema={"link": pl.String})
    got = frame.select(
        github_full_names(pl.col("link")).alias("github"), pypi_names(pl.col("link")).alias("pypi")
    )
    assert got.get_column("github").to_list() == [github_full_name(u) for u in links]
    assert got.get_column("pypi").to_list() == [
        (name := pypi_project_name(u)) and normalize_name(name) for u in links
    ]
    assert got.get_column("github").to_list()[:4] == ["owner/repo", "owner/repo", "a-b/c.d_e", "a/b"]
    assert got.get_column("pypi").to_list()[18:21] == ["django-foo-bar", "django-foo", "django-foo"]
    assert got.get_column("github").to_list()[-2:] == ["owner/repo", "a/b"]


def test_the_collector_stays_paused_until_the_last_parser_is_done():
    assert gc.isenabled()
    inside, leave = threading.Event(), threading.Event()

    def slower_parse():
        with gc_paused():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=slower_parse)
    with gc_paused():
        thread.start()
        inside.wait(10)
    assert not gc.isenabled()  # the slower parser is still inside
    leave.set()
    thread.join(10)
    assert gc.isenabled()
