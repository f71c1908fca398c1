"""weekly_commits on hand-built days: exact rows from overlapping windows, the later observation of a week
winning, the partial week completed, old dates recomputed, refresh one date at a time equal to a rebuild,
and an upgraded warehouse filled with what the old view gave."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from tests.conftest import legacy_warehouse
from warehouse import stitching, store
from warehouse.contracts import WeeklyCommit, validate
from warehouse.store import Warehouse

MONDAY = date(2026, 3, 2)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def weeks_row(
    pid: int, weeks: list[int | None] | None, anchor: datetime | None, source: str = "github"
) -> dict:
    return {"package_id": pid, "weeks": weeks, "weeks_anchor_at": anchor, "weeks_source": source}


def publish(wh: Warehouse, day: date, rows: list[dict]) -> None:
    """Replace ``day``'s daily_package_metrics with ``rows`` (the other columns their NOT NULL defaults, or
    null), then refresh the stitched weeks, as a run's publication does."""
    schema = wh.query("SELECT * FROM daily_package_metrics LIMIT 0").schema
    defaults = {
        "stars": 0,
        "forks": 0,
        "score_version": "dpas-1.0",
        "status": "active",
        "trend": "steady",
        "coverage": "full",
        "censored": False,
    }
    filled = [{**{c: defaults.get(c) for c in schema}, **row, "snapshot_date": day} for row in rows]
    with wh.transaction():
        wh.replace_partitions(
            day, {"daily_package_metrics": pl.DataFrame(filled, schema=schema, orient="row")}
        )
        stitching.refresh(wh, day)


def table(wh: Warehouse) -> list[tuple]:
    return wh.query("SELECT * FROM weekly_commits ORDER BY package_id, week_start").rows()


def rebuilt(wh: Warehouse) -> list[tuple]:
    """The table as a rebuild from every snapshot makes it, leaving the stored one as it was."""
    with wh.transaction() as conn:
        conn.execute("CREATE TEMP TABLE kept AS SELECT * FROM weekly_commits")
        stitching.rebuild(wh)
        rows = table(wh)
        conn.execute("DELETE FROM weekly_commits")
        conn.execute("INSERT INTO weekly_commits SELECT * FROM kept")
        conn.execute("DROP TABLE kept")
    return rows


def week(n: int) -> date:
    """The Monday n weeks after MONDAY."""
    return MONDAY + timedelta(weeks=n)


def test_two_snapshots_ten_weeks_apart_give_62_weeks(warehouse):
    first, second = week(1), week(11)  # Mondays: the newest week of each is the one before
    publish(warehouse, first, [weeks_row(1, list(range(52)), midnight(first))])
    publish(
        warehouse, second, [weeks_row(1, [100 + i for i in range(52)], midnight(second), "djangopackages")]
    )
    oldest = week(-51)
    assert table(warehouse) == [
        *[(1, oldest + timedelta(weeks=j), j, "github", first) for j in range(10)],
        *[(1, oldest + timedelta(weeks=j), 100 + j - 10, "djangopackages", second) for j in range(10, 62)],
    ]
    assert table(warehouse) == rebuilt(warehouse)
    # An unknown week counts nothing: the second snapshot's first week unknown leaves the first one's count.
    publish(warehouse, second, [weeks_row(1, [None] + [100 + i for i in range(1, 52)], midnight(second))])
    assert table(warehouse)[10] == (1, week(-41), 10, "github", first)
    # A short array is missing its oldest weeks: 40 weeks from each, ten weeks apart, give 50.
    publish(warehouse, first, [weeks_row(1, list(range(40)), midnight(first))])
    publish(warehouse, second, [weeks_row(1, list(range(40)), midnight(second))])
    assert len(table(warehouse)) == 50
    assert table(warehouse) == rebuilt(warehouse)


def test_the_later_observation_of_a_week_wins(warehouse):
    day = week(1)
    publish(warehouse, day, [weeks_row(1, [1] * 52, midnight(day)), weeks_row(2, [1] * 52, midnight(day))])
    # The next day: package 1 recounted (a force-push), package 2 not counted at all that day.
    publish(
        warehouse, day + timedelta(days=1), [weeks_row(1, [2] * 52, midnight(day)), weeks_row(2, None, None)]
    )
    rows = table(warehouse)
    assert {(r[0], r[2], r[4]) for r in rows} == {(1, 2, day + timedelta(days=1)), (2, 1, day)}
    assert len(rows) == 104


def test_the_partial_current_week_is_replaced_as_it_completes(warehouse):
    def newest(pid: int = 1) -> list[tuple]:
        return [r for r in table(warehouse) if r[0] == pid and r[1] >= MONDAY]

    wednesday, friday, monday = MONDAY + timedelta(days=2), MONDAY + timedelta(days=4), week(1)
    publish(warehouse, wednesday, [weeks_row(1, [0] * 51 + [1], midnight(wednesday))])
    assert newest() == [(1, MONDAY, 1, "github", wednesday)]
    publish(warehouse, friday, [weeks_row(1, [0] * 51 + [3], midnight(friday))])
    assert newest() == [(1, MONDAY, 3, "github", friday)]
    # Anchored at the next Monday's midnight, the newest week is still MONDAY's, now complete.
    publish(warehouse, monday, [weeks_row(1, [0] * 51 + [4], midnight(monday))])
    assert newest() == [(1, MONDAY, 4, "github", monday)]
    # A day later the window moves on: MONDAY's week is the next to newest, and a new partial week starts.
    tuesday = monday + timedelta(days=1)
    publish(warehouse, tuesday, [weeks_row(1, [0] * 50 + [4, 2], midnight(tuesday))])
    assert newest() == [(1, MONDAY, 4, "github", tuesday), (1, monday, 2, "github", tuesday)]
    assert len(table(warehouse)) == 53
    assert table(warehouse) == rebuilt(warehouse)


def test_recomputing_an_older_date_leaves_the_newer_observations(warehouse):
    d0, d1, d2 = week(0), week(4), week(8)
    publish(warehouse, d0, [weeks_row(1, [7] * 52, midnight(d0))])
    publish(warehouse, d1, [weeks_row(1, [1] * 52, midnight(d1))])
    publish(warehouse, d2, [weeks_row(1, [2] * 52, midnight(d2))])
    before = table(warehouse)
    assert [(r[2], r[4]) for r in before] == [(7, d0)] * 4 + [(1, d1)] * 4 + [(2, d2)] * 52
    # d1 recomputed with other counts: only the four weeks it is the latest to count change.
    publish(warehouse, d1, [weeks_row(1, [5] * 52, midnight(d1))])
    assert [(r[2], r[4]) for r in table(warehouse)] == [(7, d0)] * 4 + [(5, d1)] * 4 + [(2, d2)] * 52
    assert table(warehouse) == rebuilt(warehouse)
    # d1 recomputed without weeks: d0 counts its weeks again; recomputed anchored a year earlier, its old
    # weeks that nobody else counts go too, and the weeks only it counts now appear.
    publish(warehouse, d1, [weeks_row(1, None, None)])
    assert table(warehouse) == [r if r[4] != d1 else (1, r[1], 7, "github", d0) for r in before]
    stale = midnight(d1 - timedelta(weeks=52))
    publish(warehouse, d1, [weeks_row(1, [3] * 52, stale, "djangopackages")])
    rows = table(warehouse)
    assert rows[:52] == [(1, week(-100 + j), 3, "djangopackages", d1) for j in range(52)]
    assert [(r[1], r[2], r[4]) for r in rows[52:56]] == [(week(-48 + j), 7, d0) for j in range(4)]
    assert [(r[2], r[4]) for r in rows[56:]] == [(2, d2)] * 52
    assert rows == rebuilt(warehouse)


def test_a_date_without_a_package_keeps_what_others_count(warehouse):
    d0, d1 = week(0), week(1)
    publish(warehouse, d0, [weeks_row(1, [1] * 52, midnight(d0))])
    publish(warehouse, d1, [weeks_row(1, [2] * 52, midnight(d1)), weeks_row(2, [2] * 52, midnight(d1))])
    publish(warehouse, d1, [])  # recomputed: nobody listed
    assert table(warehouse) == [(1, week(-52 + j), 1, "github", d0) for j in range(52)]
    assert table(warehouse) == rebuilt(warehouse)


@pytest.mark.parametrize("seed", range(4))
def test_dates_published_in_any_order_and_again_give_the_rebuild(warehouse, seed):
    """Random small histories (short arrays, unknown weeks, stale and mid-day anchors, missing packages),
    published in a random order with recomputations: after every publication the table is the rebuild."""
    rng = random.Random(seed)
    dates = [MONDAY + timedelta(days=rng.randrange(120)) for _ in range(6)]
    for day in [rng.choice(dates) for _ in range(14)]:
        rows = []
        for pid in (1, 2, 3):
            if rng.random() < 0.2:
                continue
            if rng.random() < 0.2:
                rows.append(weeks_row(pid, None, None, "none"))
                continue
            # Up to the end of the day (parsing refuses later) and up to 200 days before it.
            anchor = midnight(day) + timedelta(hours=rng.randrange(-24 * 200, 25))
            weeks = [rng.choice([None, 0, 1, 2, 3]) for _ in range(rng.randrange(53))]
            rows.append(weeks_row(pid, weeks, anchor, rng.choice(["github", "djangopackages"])))
        publish(warehouse, day, rows)
        assert table(warehouse) == rebuilt(warehouse), f"after publishing {day}"
    assert table(warehouse)  # the histories are not empty


def test_the_model_refuses_misplaced_weeks_duplicates_and_negative_counts():
    good = (1, MONDAY, 3, "github", MONDAY)
    rows = pl.DataFrame(
        [
            good,
            (2, MONDAY + timedelta(days=1), 3, "github", week(1)),  # not a Monday
            (3, week(1), 3, "github", MONDAY),  # after the snapshot that counts it
            (4, MONDAY, -1, "github", MONDAY),
            (5, MONDAY, 1, "none", MONDAY),
            (1, MONDAY, 4, "djangopackages", week(1)),  # a second row for the week
        ],
        schema=list(WeeklyCommit.to_schema().columns),
        orient="row",
    )
    failed = validate(WeeklyCommit, rows)
    assert failed.valid.rows() == []
    assert sorted(failed.failures.get_column("row").unique().to_list()) == [0, 1, 2, 3, 4, 5]
    assert validate(WeeklyCommit, rows.head(1)).failures.is_empty()


def test_an_upgraded_warehouse_gets_the_old_views_rows(tmp_path, monkeypatch):
    """A warehouse made before migration 3, with the view: opening it fills the table with the view's rows."""
    path = tmp_path / "legacy.duckdb"
    shipped = store.migrations
    with monkeypatch.context() as patch:
        patch.setattr(store, "migrations", lambda: [m for m in shipped() if m[0] < 3])
        conn = legacy_warehouse(path)
    columns = (
        "snapshot_date, package_id, stars, forks, weeks_source, weeks, weeks_anchor_at, score_version, status, "
        "trend, coverage, censored"
    )
    conn.execute(
        f"INSERT INTO daily_package_metrics ({columns}) VALUES "
        "('2026-05-04', 1, 5, 1, 'github', [0, 2, NULL, 4], '2026-05-04 00:00:00+00', 'dpas-1.0', 'active', "
        "'steady', 'full', false), "
        "('2026-05-06', 1, 5, 1, 'djangopackages', [1, 6, 1], '2026-05-05 15:00:00+00', 'dpas-1.0', 'active', "
        "'steady', 'full', false), "
        "('2026-05-06', 2, 5, 1, 'none', NULL, NULL, 'dpas-1.0', 'unknown', 'n/a', 'unknown', false)"
    )
    assert conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'weekly_commits'"
    ).fetchall() == [("VIEW",)]
    view = conn.execute("SELECT * FROM weekly_commits ORDER BY package_id, week_start").fetchall()
    conn.close()
    assert view == [
        (1, date(2026, 4, 6), 0, "github", date(2026, 5, 4)),
        (1, date(2026, 4, 13), 2, "github", date(2026, 5, 4)),
        (1, date(2026, 4, 20), 1, "djangopackages", date(2026, 5, 6)),
        (1, date(2026, 4, 27), 6, "djangopackages", date(2026, 5, 6)),
        (1, date(2026, 5, 4), 1, "djangopackages", date(2026, 5, 6)),
    ]
    with Warehouse(path) as wh:
        assert wh.row(
            "SELECT table_type FROM information_schema.tables WHERE table_name = 'weekly_commits'"
        ) == ("BASE TABLE",)
        assert table(wh) == view
        assert wh.columns("weekly_commits") == [
            "package_id",
            "week_start",
            "commits",
            "source",
            "observed_on",
        ]
