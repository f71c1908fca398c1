"""A publication writes the tables whose rows of the date changed, and refreshes only the history steps that read
one of them: a recompute with nothing new to say rewrites nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.warehouse.test_marts import metric, rows
from warehouse import attributes, compaction, history, marts, staging, stitching
from warehouse.contracts import TABLE_MODELS
from warehouse.store import Warehouse

DAY = date(2026, 6, 1)
WEEKS = [1, 0, 2] * 17 + [3]
ANCHOR = datetime(2026, 6, 1, tzinfo=UTC)


def _stage(
    path: Path, title: str = "A package", stars: int = 7, weeks: list | None = WEEKS, package_ids=(1,)
) -> Path:
    with Warehouse(path) as wh:
        wh.replace_partitions(
            DAY,
            {
                "package_snapshots": rows(
                    "package_snapshots", DAY, *({"package_id": i, "title": title} for i in package_ids)
                ),
                "daily_package_metrics": rows(
                    "daily_package_metrics",
                    DAY,
                    *(
                        metric(i, stars=stars, weeks=weeks, weeks_source="github", weeks_anchor_at=ANCHOR)
                        for i in package_ids
                    ),
                ),
            },
        )
    return path


@pytest.fixture
def refreshed(monkeypatch) -> list[str]:
    """The history steps each publication refreshes, in order."""
    calls: list[str] = []
    for step in history.STEPS:
        original = step.refresh

        def spy(wh, day, step=step, original=original):
            calls.append(step.__name__.rsplit(".", 1)[1])
            return original(wh, day)

        monkeypatch.setattr(step, "refresh", spy)
    return calls


def _publish(main: Path, staged: Path) -> dict[str, int]:
    return staging.publish(main, staged, DAY, "run", {}, tables=staging.DERIVED_TABLES)


def _stored(main: Path) -> list[tuple]:
    with Warehouse(main, read_only=True) as wh:
        return [
            *wh.query("SELECT package_id, title FROM package_snapshots ORDER BY 1").rows(),
            *wh.query("SELECT package_id, stars FROM daily_package_metrics ORDER BY 1").rows(),
            *wh.query("SELECT count(*), sum(commits) FROM weekly_commits").rows(),
        ]


def test_the_same_rows_again_rewrite_nothing_and_refresh_nothing(tmp_path, refreshed):
    main = tmp_path / "warehouse.duckdb"
    written = _publish(main, _stage(tmp_path / "a.duckdb"))
    assert refreshed == ["stitching", "attributes", "marts"]
    assert written["package_snapshots"] == written["daily_package_metrics"] == 1
    before = _stored(main)
    with Warehouse(main) as wh:  # as if the month had been compacted since
        wh.conn.execute("INSERT INTO compacted_months VALUES ($m, now(), 2)", {"m": DAY.replace(day=1)})

    refreshed.clear()
    again = _publish(main, _stage(tmp_path / "b.duckdb"))

    assert refreshed == []
    assert again == written  # the counts are still reported
    assert _stored(main) == before == [(1, "A package"), (1, 7), (52, sum(WEEKS))]
    with Warehouse(main, read_only=True) as wh:
        assert compaction.due(wh) == []  # nothing was rewritten, so the month is still compacted
        assert wh.row("SELECT count(*) FROM compacted_months") == (1,)


@pytest.mark.parametrize(
    ("change", "steps", "stored"),
    [
        # the stitched weeks read the weeks only: a new star count (or score) leaves them as they are
        ({"stars": 9}, ["marts"], [(1, "A package"), (1, 9), (52, sum(WEEKS))]),
        ({"title": "Renamed"}, ["attributes", "marts"], [(1, "Renamed"), (1, 7), (52, sum(WEEKS))]),
        # one week of the 52, inside a list
        (
            {"weeks": [*WEEKS[:-1], 4]},
            ["stitching", "marts"],
            [(1, "A package"), (1, 7), (52, sum(WEEKS) + 1)],
        ),
        ({"weeks": None}, ["stitching", "marts"], [(1, "A package"), (1, 7), (0, None)]),
        (
            {"package_ids": [1, 2]},
            ["stitching", "attributes", "marts"],
            [(1, "A package"), (2, "A package"), (1, 7), (2, 7), (104, 2 * sum(WEEKS))],
        ),
    ],
)
def test_a_changed_table_refreshes_the_steps_that_read_it(tmp_path, refreshed, change, steps, stored):
    main = tmp_path / "warehouse.duckdb"
    _publish(main, _stage(tmp_path / "a.duckdb"))
    refreshed.clear()

    _publish(main, _stage(tmp_path / "b.duckdb", **change))

    assert refreshed == steps
    assert _stored(main) == stored
    with Warehouse(main, read_only=True) as wh:
        titles = wh.query("SELECT DISTINCT value FROM attribute_history WHERE attribute = 'title'").rows()
        assert titles == [(stored[0][1],)]


def test_every_step_names_the_published_tables_it_reads():
    """A step refreshed only when its INPUTS change must list every published table its SQL reads."""
    import inspect
    import re

    for step in (stitching, attributes, marts):
        source = inspect.getsource(step)
        read = {t for t in staging.DERIVED_TABLES if re.search(rf"\b{t}\b", source)} - set(step.TABLES)
        assert read == set(step.INPUTS), step.__name__
        for table, columns in step.INPUTS.items():
            # every column of the table the step's SQL names is among those it declares
            named = {c for c in TABLE_MODELS[table].to_schema().columns if re.search(rf"\b{c}\b", source)}
            assert columns is None or named <= set(columns), (step.__name__, named - set(columns or ()))


def test_the_rows_of_a_date_sum_up_alike_in_any_file_and_order_and_differently_after_any_change(tmp_path):
    def digest(path: Path, packages: list[dict]) -> tuple[int, int]:
        with Warehouse(path) as wh:
            wh.replace_partitions(DAY, {"package_snapshots": rows("package_snapshots", DAY, *packages)})
            return staging.digests(wh, ["package_snapshots"], DAY)["package_snapshots"]

    packages = [{"package_id": i, "title": f"p{i}", "stars": i, "pypi_version": "1.0"} for i in (1, 2, 3)]
    same = digest(tmp_path / "a.duckdb", packages)
    assert same[0] == 3
    assert digest(tmp_path / "b.duckdb", packages[::-1]) == same
    changed = [
        [*packages[:2], {**packages[2], "title": "P3"}],
        [*packages[:2], {**packages[2], "pypi_version": None}],
        # the same values, moved to another row
        [*packages[:1], {**packages[1], "stars": 3}, {**packages[2], "stars": 2}],
        [*packages, {"package_id": 4, "title": "p4", "stars": 4}],
        packages[:2],
    ]
    sums = [digest(tmp_path / f"c{i}.duckdb", change) for i, change in enumerate(changed)]
    assert same not in sums
    assert len(set(sums)) == len(sums)


def test_a_held_staged_file_is_let_go_only_when_a_table_must_be_copied_from_it(tmp_path):
    """A publication that rewrites nothing reads the staged file through the run's hold; one that rewrites a
    table attaches the file, written out whole first."""
    main = tmp_path / "warehouse.duckdb"
    _publish(main, _stage(tmp_path / "a.duckdb"))

    def held(name: str, **change) -> Path:
        path = tmp_path / name
        Warehouse(path).close()
        staging.hold(path)
        return _stage(path, **change)

    same, changed = held("b.duckdb"), held("c.duckdb", stars=9)
    try:
        _publish(main, same)
        assert same.with_name(same.name + ".wal").exists()  # still held: its commits are still in the log
        assert _stored(main) == [(1, "A package"), (1, 7), (52, sum(WEEKS))]

        _publish(main, changed)
        assert not changed.with_name(changed.name + ".wal").exists()
        assert _stored(main) == [(1, "A package"), (1, 9), (52, sum(WEEKS))]
    finally:
        staging.release(same)
        staging.release(changed)
