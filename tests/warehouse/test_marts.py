"""The marts on tiny hand-built days: exact rows for each, the deltas' windows, transitions kept right when an
old date is recomputed, and a refresh date by date (in any order) equal to a rebuild."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from warehouse import marts
from warehouse.contracts import TABLE_MODELS
from warehouse.scoring.vocabulary import STATUSES

D = date(2026, 6, 1)
FETCHED = datetime(2026, 1, 1, tzinfo=UTC)
# What a row needs where a test does not say: the non-null columns; every other column is null.
DEFAULTS: dict[str, dict[str, Any]] = {
    "package_snapshots": {
        "slug": "p",
        "title": "P",
        "repo_host": "none",
        "stars": 0,
        "forks": 0,
        "last_fetched_at": FETCHED,
        "repairs": [],
    },
    "daily_package_metrics": {
        "stars": 0,
        "forks": 0,
        "weeks_source": "none",
        "score_version": "dpas-1.0",
        "status": "unknown",
        "trend": "n/a",
        "coverage": "unknown",
        "censored": False,
    },
    "pypi_projects": {"status": "ok"},
    "release_snapshots": {"yanked": False},
    "grid_package_snapshots": {},
}


def rows(table: str, day: date, *given: dict[str, Any]) -> pl.DataFrame:
    schema = {name: column.dtype.type for name, column in TABLE_MODELS[table].to_schema().columns.items()}
    filled = [{**dict.fromkeys(schema), **DEFAULTS[table], "snapshot_date": day, **row} for row in given]
    return pl.DataFrame(filled, schema=schema, orient="row")


def publish(wh, day: date, **tables: list[dict[str, Any]]) -> None:
    """Replace ``day`` in the given tables (the others emptied for that date), then refresh the marts."""
    wh.replace_partitions(day, {table: rows(table, day, *tables.get(table, [])) for table in DEFAULTS})
    marts.refresh(wh, day)


def mart(wh, table: str, day: date | None = None) -> list[tuple]:
    where = "" if day is None else f"WHERE snapshot_date = DATE '{day}'"
    return wh.query(f"SELECT * FROM {table} {where} ORDER BY ALL").rows()


def metric(package_id: int, **fields: Any) -> dict[str, Any]:
    return {"package_id": package_id, **fields}


# same-day marts ------------------------------------------------------------------------------------------


@pytest.fixture
def one_day(warehouse):
    def at(days: float, hour: int = 0) -> datetime:
        return datetime(D.year, D.month, D.day, hour, tzinfo=UTC) - timedelta(days=days)

    publish(
        warehouse,
        D,
        package_snapshots=[
            {"package_id": 1, "category_id": 10, "pypi_name": "alpha", "participants": ["a", "b"]},
            {"package_id": 2, "category_id": 10, "pypi_name": "beta", "participants": ["a"]},
            {"package_id": 3, "category_id": 10, "pypi_name": "gamma", "participants": []},
            {"package_id": 4, "category_id": 11},
            {"package_id": 5, "pypi_name": "alpha", "participants": ["a", "b", "c"]},
        ],
        daily_package_metrics=[
            metric(1, status="active", activity_score=80.0),
            metric(2, status="slowing", activity_score=50.0),
            metric(3, status="unknown"),
            metric(4, status="abandoned", activity_score=5.0),
            metric(5, status="active", activity_score=90.0),
        ],
        grid_package_snapshots=[
            {"grid_id": 100, "package_id": 1},
            {"grid_id": 100, "package_id": 4},
            {"grid_id": 101, "package_id": 2},
        ],
        pypi_projects=[
            {"pypi_name": "alpha", "django_versions": ["4.2", "5.0"]},
            {"pypi_name": "beta", "django_versions": ["5.0"]},
            {"pypi_name": "gamma", "status": "missing"},
        ],
        release_snapshots=[
            {"pypi_name": "alpha", "version": "1.0", "uploaded_at": at(365)},  # one day too old for 365d
            {"pypi_name": "alpha", "version": "1.1", "uploaded_at": at(364, 12)},
            {"pypi_name": "alpha", "version": "1.2", "uploaded_at": at(10), "yanked": True},
            {"pypi_name": "alpha", "version": "2.0", "uploaded_at": at(1, 12)},
            {"pypi_name": "alpha", "version": "2.1"},  # no upload time: not counted
            {"pypi_name": "beta", "version": "0.1", "uploaded_at": at(3), "yanked": True},
        ],
    )
    return warehouse, at


def test_category_health_counts_statuses_and_scores(one_day):
    wh, _ = one_day
    assert mart(wh, "category_health") == [
        # 3 packages: active, slowing, unknown; scores 80 and 50 (the unknown one has none)
        (D, 10, 3, 1, 1, 0, 0, 0, 1, 65.0, 72.5, 1 / 3),
        (D, 11, 1, 0, 0, 0, 0, 1, 0, 5.0, 5.0, 0.0),
        # package 5 has no category: in no row
    ]


def test_grid_health_reads_the_grid_memberships(one_day):
    wh, _ = one_day
    assert mart(wh, "grid_health") == [
        (D, 100, 2, 1, 0, 0, 0, 1, 0, 42.5, 61.25, 0.5),
        (D, 101, 1, 0, 1, 0, 0, 0, 0, 50.0, 50.0, 0.0),
    ]


def test_health_has_a_count_for_every_status_of_the_vocabulary(warehouse):
    for table in ("category_health", "grid_health"):
        columns = warehouse.columns(table)
        assert columns[3 : 3 + len(STATUSES)] == list(STATUSES)


def test_release_cadence_counts_non_yanked_releases_with_an_upload_time(one_day):
    wh, at = one_day
    # gaps 1.0 -> 1.1: a day and a half, 1.1 -> 2.0: 363 days; 1.2 is yanked, 2.1 has no time
    alpha = ("alpha", 3, "2.0", at(1, 12), 1, (1.5 + 363) / 2, 2)
    assert mart(wh, "release_cadence") == [
        (D, "alpha", 1, *alpha[1:]),
        (D, "alpha", 5, *alpha[1:]),
        # beta's only release is yanked; gamma's project was not found that date, package 4 has none
        (D, "beta", 2, 0, None, None, None, None, 0),
    ]


def test_django_support_shares_packages_with_a_project(one_day):
    wh, _ = one_day
    # packages 1, 2 and 5 have a project found that date (3 has a missing one, 4 none)
    assert mart(wh, "django_support") == [(D, "4.2", 2, 2 / 3), (D, "5.0", 3, 1.0)]


def test_package_contributors_from_participants(one_day):
    wh, _ = one_day
    assert mart(wh, "package_contributors") == [
        (D, 1, 2, False),
        (D, 2, 1, True),
        (D, 3, 0, True),
        (D, 4, None, None),
        (D, 5, 3, False),
    ]


def test_a_date_published_again_replaces_its_marts(one_day):
    wh, _ = one_day
    publish(
        wh, D, package_snapshots=[{"package_id": 1, "participants": ["a"]}], daily_package_metrics=[metric(1)]
    )
    assert mart(wh, "package_contributors") == [(D, 1, 1, True)]
    assert mart(wh, "category_health") == mart(wh, "release_cadence") == mart(wh, "django_support") == []
    assert mart(wh, "grid_health") == []


# deltas --------------------------------------------------------------------------------------------------


def test_deltas_against_the_latest_snapshot_in_each_window(warehouse):
    history = {
        # package 1: exactly 7 days back; 30 days back only D-35 and D-36 (in the week of slack: D-35, the
        # latest, has no score, so no score delta even though D-36 has one); 90 days back only D-99 (too old)
        D - timedelta(7): [metric(1, stars=90, activity_score=45.5, commits_52w=38)],
        D - timedelta(35): [metric(1, stars=70, commits_52w=30)],
        D - timedelta(36): [metric(1, stars=60, activity_score=30.0, commits_52w=20)],
        # package 3 at the edge of the 90-day window's slack, package 4 one day past it
        D - timedelta(97): [metric(3, stars=1, activity_score=2.0, commits_52w=3)],
        D - timedelta(98): [metric(4, stars=1, activity_score=2.0, commits_52w=3)],
        D - timedelta(99): [metric(1, stars=10, activity_score=10.0, commits_52w=1)],
        D - timedelta(90): [metric(2, stars=3, activity_score=1.0, commits_52w=2)],
    }
    for day, metrics in sorted(history.items()):
        publish(warehouse, day, daily_package_metrics=metrics)
    publish(
        warehouse,
        D,
        daily_package_metrics=[
            metric(1, stars=100, activity_score=50.0, commits_52w=40),
            metric(2, stars=5),
            metric(3, stars=4, activity_score=2.5, commits_52w=4),
            metric(4, stars=4, activity_score=2.5, commits_52w=4),
        ],
    )
    assert mart(warehouse, "package_deltas", D) == [
        (D, 1, 100, 50.0, 40, 10, 30, None, 4.5, None, None, 2, 10, None),
        (D, 2, 5, None, None, None, None, 2, None, None, None, None, None, None),
        (D, 3, 4, 2.5, 4, None, None, 3, None, None, 0.5, None, None, 1),
        (D, 4, 4, 2.5, 4, None, None, None, None, None, None, None, None, None),
    ]


def test_recomputing_an_old_date_updates_the_deltas_that_read_it(warehouse):
    old = D - timedelta(30)
    publish(warehouse, old, daily_package_metrics=[metric(1, stars=10)])
    publish(warehouse, D, daily_package_metrics=[metric(1, stars=25)])
    assert mart(warehouse, "package_deltas", D)[0][5:8] == (None, 15, None)
    publish(warehouse, old, daily_package_metrics=[metric(1, stars=20)])
    assert mart(warehouse, "package_deltas", D)[0][5:8] == (None, 5, None)
    # the old date gone from the scores: D's 30-day delta has no reference any more
    publish(warehouse, old)
    assert mart(warehouse, "package_deltas", D)[0][5:8] == (None, None, None)


# transitions ---------------------------------------------------------------------------------------------


def _statuses(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [metric(package_id, status=status) for package_id, status in pairs]


def test_transitions_name_newly_dormant_revived_and_changed(warehouse):
    d1, d2 = D, D + timedelta(1)
    publish(
        warehouse,
        d1,
        daily_package_metrics=_statuses(
            (1, "active"), (2, "abandoned"), (3, "inactive"), (4, "abandoned"), (5, "unknown"), (6, "active")
        ),
    )
    publish(
        warehouse,
        d2,
        daily_package_metrics=_statuses(
            (1, "inactive"),
            (2, "slowing"),
            (3, "abandoned"),
            (4, "stale"),
            (5, "abandoned"),
            (6, "active"),
            (7, "abandoned"),  # new that date: no transition
        ),
    )
    assert mart(warehouse, "status_transitions") == [
        (d2, 1, d1, "active", "inactive", "newly_dormant"),
        (d2, 2, d1, "abandoned", "slowing", "revived"),
        (d2, 3, d1, "inactive", "abandoned", "changed"),
        (d2, 4, d1, "abandoned", "stale", "changed"),
        (d2, 5, d1, "unknown", "abandoned", "newly_dormant"),
    ]


def test_every_pair_of_statuses_gets_the_kind_its_definition_says(warehouse):
    pairs = [(before, now) for before in STATUSES for now in STATUSES]
    publish(warehouse, D, daily_package_metrics=_statuses(*((i, b) for i, (b, _) in enumerate(pairs, 1))))
    publish(
        warehouse,
        D + timedelta(1),
        daily_package_metrics=_statuses(*((i, n) for i, (_, n) in enumerate(pairs, 1))),
    )
    dormant = {"inactive", "abandoned"}

    def kind(before: str, now: str) -> str:
        if before not in dormant and now in dormant:
            return "newly_dormant"
        if before in dormant and now in ("active", "slowing"):
            return "revived"
        return "changed"

    expected = [(b, n, kind(b, n)) for b, n in pairs if b != n]
    assert sorted(row[3:] for row in mart(warehouse, "status_transitions")) == sorted(expected)
    assert {k for *_, k in expected} == {"newly_dormant", "revived", "changed"}


def test_an_old_date_recomputed_changes_the_next_dates_transition(warehouse):
    d1, d2, d3 = D, D + timedelta(1), D + timedelta(3)
    publish(warehouse, d1, daily_package_metrics=_statuses((1, "active"), (2, "active")))
    publish(warehouse, d3, daily_package_metrics=_statuses((1, "inactive"), (2, "active")))
    assert mart(warehouse, "status_transitions") == [(d3, 1, d1, "active", "inactive", "newly_dormant")]
    # a capture of d2 published late: d3 now follows d2
    publish(warehouse, d2, daily_package_metrics=_statuses((1, "stale"), (2, "abandoned")))
    assert mart(warehouse, "status_transitions") == [
        (d2, 1, d1, "active", "stale", "changed"),
        (d2, 2, d1, "active", "abandoned", "newly_dormant"),
        (d3, 1, d2, "stale", "inactive", "newly_dormant"),
        (d3, 2, d2, "abandoned", "active", "revived"),
    ]
    # d2 recomputed with other statuses: its own and d3's transitions follow
    publish(warehouse, d2, daily_package_metrics=_statuses((1, "inactive"), (2, "active")))
    assert mart(warehouse, "status_transitions") == [(d2, 1, d1, "active", "inactive", "newly_dormant")]
    # d2 left without scores: d3 is compared with d1 again
    publish(warehouse, d2)
    assert mart(warehouse, "status_transitions") == [(d3, 1, d1, "active", "inactive", "newly_dormant")]


def test_rows_outside_the_contract_are_refused_before_anything_is_written(warehouse):
    publish(warehouse, D, daily_package_metrics=_statuses((1, "active")))
    publish(warehouse, D + timedelta(1), daily_package_metrics=_statuses((1, "inactive")))
    before = mart(warehouse, "status_transitions")
    warehouse.replace_partitions(
        D + timedelta(1),
        {
            "daily_package_metrics": rows(
                "daily_package_metrics", D + timedelta(1), metric(1, status="asleep")
            )
        },
    )
    with pytest.raises(ValueError, match="status_now"):
        marts.refresh(warehouse, D + timedelta(1))
    assert mart(warehouse, "status_transitions") == before


# refresh and rebuild -------------------------------------------------------------------------------------


def _random_day(rng: random.Random, day: date) -> dict[str, list[dict[str, Any]]]:
    ids = [i for i in range(1, 9) if rng.random() < 0.85]
    names = {i: f"p{i % 4}" if i % 3 else None for i in ids}
    return {
        "package_snapshots": [
            {
                "package_id": i,
                "category_id": rng.choice([None, 1, 2]),
                "pypi_name": names[i],
                "participants": rng.choice([None, [], ["a"], ["a", "b"]]),
            }
            for i in ids
        ],
        "daily_package_metrics": [
            metric(
                i,
                stars=rng.randrange(100),
                activity_score=rng.choice([None, rng.uniform(0, 100)]),
                commits_52w=rng.choice([None, rng.randrange(50)]),
                status=rng.choice(STATUSES),
            )
            for i in ids
        ],
        "grid_package_snapshots": [{"grid_id": 1 + i % 2, "package_id": i} for i in ids if i % 4],
        "pypi_projects": [
            {
                "pypi_name": name,
                "status": rng.choice(["ok", "ok", "missing"]),
                "django_versions": ["4.2", "5.0"][: i % 3],
            }
            for i, name in enumerate(sorted({n for n in names.values() if n}))
        ],
        "release_snapshots": [
            {
                "pypi_name": name,
                "version": f"1.{v}",
                "uploaded_at": datetime(day.year, day.month, day.day, tzinfo=UTC)
                - timedelta(days=rng.randrange(500)),
                "yanked": rng.random() < 0.2,
            }
            for name in sorted({n for n in names.values() if n})
            for v in range(rng.randrange(4))
        ],
    }


def test_refreshing_dates_in_any_order_equals_a_rebuild(warehouse):
    rng = random.Random(7)
    days = sorted({D - timedelta(days=rng.randrange(120)) for _ in range(25)})
    contents = {day: _random_day(rng, day) for day in days}
    # published out of order (late captures), some twice with other content (recomputed dates)
    order = rng.sample(days, len(days)) + rng.sample(days, 5)
    published: set[date] = set()
    for day in order:
        if day in published:
            contents[day] = _random_day(rng, day)
        published.add(day)
        publish(warehouse, day, **contents[day])
    refreshed = {table: mart(warehouse, table) for table in marts.TABLES}
    marts.rebuild(warehouse)
    rebuilt = {table: mart(warehouse, table) for table in marts.TABLES}
    assert all(rebuilt[table] for table in marts.TABLES), "every mart has rows to compare"
    for table in marts.TABLES:
        assert refreshed[table] == rebuilt[table], table
